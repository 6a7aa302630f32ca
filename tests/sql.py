"""What a piece of code sends to the database, and how SQLite plans it: for tests that hold a query's shape."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event


@contextmanager
def recorded_statements(engine: Engine) -> Iterator[list[tuple[str, object, bool]]]:
    """(statement, parameters, executemany) of everything the engine runs inside the block, in order."""
    seen: list[tuple[str, object, bool]] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany):
        seen.append((statement, parameters, executemany))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def sqlite_plan(conn: Connection, sql: str, parameters: object = ()) -> str:
    """SQLite's EXPLAIN QUERY PLAN of a statement, its lines joined."""
    return " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters))
