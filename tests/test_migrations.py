"""The schema is made only by Alembic, up to head and back to base, on both backends."""

import threading

from sqlalchemy import create_engine, inspect

from app import migrate
from app.config import Settings


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_to_head_then_downgrade_to_base(empty_db_url):
    settings = Settings(database_url=empty_db_url, env="test")
    migrate.upgrade(settings)
    assert {"grid", "grid_token", "person", "auth_session", "login_failure"} <= _tables(empty_db_url)
    migrate.downgrade(settings, "base")
    assert _tables(empty_db_url) == set()


def test_constraint_names_follow_the_convention(empty_db_url):
    migrate.upgrade(Settings(database_url=empty_db_url, env="test"))
    engine = create_engine(empty_db_url)
    inspector = inspect(engine)
    unique_names = {u["name"] for u in inspector.get_unique_constraints("grid")}
    foreign_names = {f["name"] for f in inspector.get_foreign_keys("grid")}
    engine.dispose()
    assert "uq_grid_code" in unique_names
    assert "fk_grid_parent_id_grid" in foreign_names


def test_instances_migrating_at_once_all_succeed(empty_db_url):
    settings = Settings(database_url=empty_db_url, env="test")
    failures: list[BaseException] = []

    def run() -> None:
        try:
            migrate.upgrade(settings)
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert "grid" in _tables(empty_db_url)
