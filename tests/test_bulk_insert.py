"""insert_rows and reserve_ids: the intake's and the sweep's bulk writes store what an ORM insert stores."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlmodel import select

from app.bulk import insert_rows, reserve_ids
from app.db import get_engine, session_scope
from app.reports.models import Case, CaseEvent

AT = datetime(2026, 12, 2, 5, 30, 15, 123456, tzinfo=UTC)


def _a_case(session) -> int:
    from app import demo as demo_city
    from app.config import get_settings
    from app.grids.models import Grid

    demo_city.load(session, settings=get_settings())
    grid = session.exec(select(Grid).where(Grid.level == "grid")).first()
    case = Case(tracking_code="ABCDE23456", grid_id=grid.id, category_code="repairs", description="灯坏了",
                contact_phone="+8613912345678", created_at=AT, contact_due_at=AT + timedelta(minutes=30),
                upload_token_hash="0" * 64, upload_expires_at=AT + timedelta(hours=24))
    session.add(case)
    session.flush()
    return case.id


def test_rows_inserted_in_bulk_read_back_as_the_orm_would_have_stored_them(db_url):
    with session_scope() as session:
        case_id = _a_case(session)
        session.add(CaseEvent(case_id=case_id, kind="orm", at=AT, public=True, detail={"level": 1, "名": "张"}))
        insert_rows(session.connection(), CaseEvent.__table__, [
            {"case_id": case_id, "kind": "bulk", "at": AT, "public": True, "actor_id": None,
             "detail": {"level": 1, "名": "张"}},
            {"case_id": case_id, "kind": "bulk-null", "at": AT + timedelta(seconds=1), "public": False,
             "actor_id": None, "detail": None}])
    with session_scope() as session:
        rows = {e.kind: e for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id))}
    orm, bulk, null = rows["orm"], rows["bulk"], rows["bulk-null"]
    assert (bulk.at, bulk.public, bulk.detail) == (orm.at, orm.public, orm.detail)
    assert bulk.at == AT and bulk.at.tzinfo is not None
    assert null.detail is None and null.public is False and null.at == AT + timedelta(seconds=1)


def test_a_naive_timestamp_is_refused_as_by_the_orm(db_url):
    with session_scope() as session:
        case_id = _a_case(session)
        with pytest.raises(ValueError, match="naive"):
            insert_rows(session.connection(), CaseEvent.__table__, [
                {"case_id": case_id, "kind": "bulk", "at": AT.replace(tzinfo=None), "public": True,
                 "actor_id": None, "detail": None}])


def test_a_column_default_computed_in_python_is_refused_rather_than_left_out(db_url):
    table = Table("bulk_default_probe", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(10)), Column("stamp", String(10), default=lambda: "made"))
    table.create(get_engine())
    try:
        with get_engine().begin() as conn, pytest.raises(TypeError, match="stamp"):
            insert_rows(conn, table, [{"id": 1, "name": "a"}])
    finally:
        table.drop(get_engine())


def test_reserved_ids_follow_the_rows_already_there_and_are_used_once(db_url):
    with session_scope() as session:
        existing = _a_case(session)
        conn = session.connection()
        first = reserve_ids(conn, Case.__table__, 3)
        assert len(first) == 3 == len(set(first)) and min(first) > existing
        rows = [{"id": case_id, "tracking_code": f"CODE{n}AAAAA"[:10], "grid_id": 1, "category_code": "repairs",
                 "description": "x", "contact_phone": "+8613912345678", "contact_name": None, "proxy_name": None,
                 "proxy_phone": None, "proxy_relation": None, "proxy_call": None, "lat": None, "lng": None,
                 "accuracy_m": None, "channel": "qr", "status": "open", "created_at": AT,
                 "contact_due_at": AT, "upload_token_hash": "0" * 64, "upload_expires_at": AT}
                for n, case_id in enumerate(first)]
        grid_id = session.get(Case, existing).grid_id
        for row in rows:
            row["grid_id"] = grid_id
        insert_rows(conn, Case.__table__, rows)
        second = reserve_ids(conn, Case.__table__, 2)
        assert min(second) > max(first)
    with session_scope() as session:
        stored = session.exec(select(Case.id).where(Case.id.in_(first))).all()
    assert sorted(stored) == sorted(first)


def test_reserving_no_ids_asks_nothing(db_url):
    with get_engine().connect() as conn:
        assert reserve_ids(conn, Case.__table__, 0) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # Postgres writers take row locks, not a turn
def test_the_sqlite_write_turn_excludes_other_processes_and_outlasts_nested_turns(db_url):
    import fcntl

    from app.db import _sqlite_path, sqlite_write_turn

    engine = get_engine()
    path = f"{_sqlite_path(db_url)}.write-turn"

    def free() -> bool:
        with open(path, "a") as other:  # another open file: what another process holds
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other, fcntl.LOCK_UN)
            return True

    with sqlite_write_turn(engine):
        assert not free()
        with sqlite_write_turn(engine):
            assert not free()
        assert not free()  # the inner turn ending does not hand the file to another process
    assert free()


def test_values_repeated_across_rows_are_stored_for_every_row(db_url):
    shared = {"level": 1}
    with session_scope() as session:
        case_id = _a_case(session)
        insert_rows(session.connection(), CaseEvent.__table__, [
            {"case_id": case_id, "kind": kind, "at": at, "public": True, "actor_id": None, "detail": detail}
            for kind, at, detail in [("a", AT, shared), ("b", AT, shared), ("c", AT + timedelta(seconds=1), {"x": 2}),
                                     ("d", AT, {"level": 1}), ("e", AT, None)]])
    with session_scope() as session:
        rows = {e.kind: (e.at, e.detail) for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id))}
    assert rows == {"a": (AT, {"level": 1}), "b": (AT, {"level": 1}), "c": (AT + timedelta(seconds=1), {"x": 2}),
                    "d": (AT, {"level": 1}), "e": (AT, None)}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_forgetting_the_engine_closes_the_write_turn_file(db_url):
    from app import db

    with db.sqlite_write_turn(get_engine()):
        pass
    assert db._turn_files
    db.reset_engine()
    assert not db._turn_files


def test_the_direct_timestamp_binds_store_what_sqlalchemy_would():
    """bulk.bind_processor's UTCDateTime shortcut against SQLAlchemy's own processor, on both dialects."""
    from sqlalchemy.dialects import postgresql, sqlite

    from app.bulk import bind_processor
    from app.db import UTCDateTime

    china = timezone(timedelta(hours=8))
    values = [AT, AT.replace(microsecond=0), AT.astimezone(china), datetime(2026, 1, 1, tzinfo=UTC)]
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        column_type = UTCDateTime()
        theirs = column_type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        ours = bind_processor(column_type, dialect)
        for value in values:
            expected = theirs(column_type.process_bind_param(value, dialect)) \
                if dialect.name == "postgresql" else column_type.dialect_impl(dialect).bind_processor(dialect)(value)
            assert ours(value) == expected, (dialect.name, value)
        with pytest.raises(ValueError, match="naive"):
            ours(datetime(2026, 1, 1))


def test_notification_ids_are_uuid7_in_time_order():
    """Ids in time order append to their indexes (a random id rewrote a random index page per insert)."""
    import time
    import uuid

    from app.paging.payload import new_id

    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(1000)]
    assert all(first < other for other in later)
    assert len(set(later)) == 1000
    parsed = uuid.UUID(first)
    assert (parsed.version, parsed.variant, len(first)) == (7, uuid.RFC_4122, 32)
    assert abs(int(first[:12], 16) / 1000 - time.time()) < 5  # the first 48 bits: Unix time in milliseconds
