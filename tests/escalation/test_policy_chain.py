"""Each new case copies the chain of grids it escalates through: its grid, the community, the street."""

import pytest
from sqlmodel import select

from app.config import get_settings
from app.db import get_engine, session_scope
from app.escalation.models import CaseEscalation
from app.escalation.service import chains_of
from app.grids.models import Grid
from app.reports import intake
from app.reports.models import Case
from tests.escalation.harness import pending_report
from tests.sql import recorded_statements

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def _ids() -> dict[str, int]:
    with session_scope() as s:
        return {grid.code: grid.id for grid in s.exec(select(Grid))}


def test_one_batch_of_cases_from_several_grids_gets_each_grid_its_own_chain(db_url, demo):
    ids = _ids()
    settings = get_settings()
    batch = [pending_report("BY-RML-GYL-01", settings=settings, description="公园路一"),
             pending_report("BY-RML-LZL-02", settings=settings, description="兰州路二"),
             pending_report("BY-RML-GYL-01", settings=settings, description="公园路一又一件")]
    with recorded_statements(get_engine()) as statements:
        intake.write_batch(batch, settings=settings)
    # Every chain of the batch from one statement, inside intake's write transaction (not one per tree level).
    assert len([sql for sql, _, _ in statements if "FROM grid WHERE" in sql]) == 1, statements
    assert all(isinstance(p.result, dict) for p in batch), [p.result for p in batch]
    with session_scope() as s:
        chains = {case.description: escalation.policy["chain"] for case, escalation in s.exec(
            select(Case, CaseEscalation).where(CaseEscalation.case_id == Case.id))}
    gyl = [ids["BY-RML-GYL-01"], ids["BY-RML-GYL"], ids["BY-RML"]]
    assert chains == {"公园路一": gyl, "公园路一又一件": gyl,
                      "兰州路二": [ids["BY-RML-LZL-02"], ids["BY-RML-LZL"], ids["BY-RML"]]}


def test_chains_stop_at_the_top_and_at_a_cycle(db_url, demo):
    ids = _ids()
    with get_engine().connect() as conn:
        assert chains_of(conn, {ids["BY-RML"]}) == {ids["BY-RML"]: [ids["BY-RML"]]}
        assert chains_of(conn, set()) == {}
        assert chains_of(conn, {999_999}) == {999_999: [999_999]}  # no such grid: nothing above it
    with session_scope() as s:  # a mistake in the tree: the street made a child of one of its own grids
        street = s.get(Grid, ids["BY-RML"])
        street.parent_id = ids["BY-RML-GYL-01"]
        s.add(street)
    with get_engine().connect() as conn:
        chains = chains_of(conn, {ids["BY-RML-GYL-01"], ids["BY-RML-LZL"]})
    with session_scope() as s:  # and a grid made its own parent
        grid = s.get(Grid, ids["BY-RML-LZL-02"])
        grid.parent_id = grid.id
        s.add(grid)
    with get_engine().connect() as conn:
        assert chains_of(conn, {ids["BY-RML-LZL-02"]}) == {ids["BY-RML-LZL-02"]: [ids["BY-RML-LZL-02"]]}
    assert chains == {ids["BY-RML-GYL-01"]: [ids["BY-RML-GYL-01"], ids["BY-RML-GYL"], ids["BY-RML"]],
                      ids["BY-RML-LZL"]: [ids["BY-RML-LZL"], ids["BY-RML"], ids["BY-RML-GYL-01"],
                                          ids["BY-RML-GYL"]]}
