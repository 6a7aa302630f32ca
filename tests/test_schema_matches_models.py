"""The migrations build exactly the schema the models describe: no table, column or index only on one side."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401 - every table on the metadata
from app import migrate
from app.config import Settings
from tests.sql import sqlite_plan

both_backends = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@both_backends
def test_migrated_schema_matches_the_models(empty_db_url):
    migrate.upgrade(Settings(database_url=empty_db_url, env="test"))
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_steps_of_one_case_are_found_by_case_not_by_scanning_pending_steps(tmp_path):
    """The contact and close path cancels a case's pending steps: that must not walk every pending step."""
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate.upgrade(Settings(database_url=url, env="test"))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            plans = {
                sql: sqlite_plan(conn, sql)
                for sql in ("SELECT id FROM case_step WHERE case_id = 5 AND state = 'pending'",
                            "SELECT id FROM case_recipient WHERE case_id IN (1, 2, 3)")}
    finally:
        engine.dispose()
    for sql, plan in plans.items():
        assert "(case_id=?)" in plan, (sql, plan)
