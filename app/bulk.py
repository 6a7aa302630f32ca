"""Bulk writes for the hot paths (intake, sweep, outbox): statements compiled once, values converted up front.

SQLAlchemy's executemany runs every row through the statement compiler (construct_params), which cost more
than the database on these paths. Here a statement is compiled once per table, column set and dialect, each
value goes through its column type's bind processor (UTCDateTime, SQLite's datetime strings, JSON), so what is
stored is what the ORM stores, and the rows go to the driver as they are. Preparing is separate from running,
so that on SQLite the conversions happen before the single write lock is taken.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

from sqlalchemy import Connection, Dialect, Table, bindparam, insert, text, update

from app.db import UTCDateTime


@dataclass(frozen=True)
class Prepared:
    """A statement and its rows, converted for the driver: run it with execute()."""

    sql: str
    params: list


_compiled: dict[tuple, tuple[str, tuple, bool]] = {}


def _sqlite_utc(value: datetime) -> str:
    """UTCDateTime on SQLite, as SQLAlchemy stores it ("YYYY-MM-DD HH:MM:SS.ffffff"), in a tenth of the time."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware UTC")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc(value: datetime) -> datetime:
    """UTCDateTime where the driver takes datetime objects (Postgres)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware UTC")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def bind_processor(type_, dialect: Dialect):
    """The column type's bind processor; for UTCDateTime a direct one (tests hold it to SQLAlchemy's)."""
    if isinstance(type_, UTCDateTime):
        return _sqlite_utc if dialect.name == "sqlite" else _utc
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _compile(dialect: Dialect, key: tuple, build) -> tuple[str, tuple, bool]:
    cached = _compiled.get((dialect.name, *key))
    if cached is None:
        compiled = build().compile(dialect=dialect)
        names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
        fields = tuple((name, bind_processor(compiled.binds[name].type, dialect)) for name in names)
        cached = _compiled[(dialect.name, *key)] = (compiled.string, fields, compiled.positional)
    return cached


def _convert(cached: tuple[str, tuple, bool], rows: list[dict]) -> Prepared:
    sql, fields, positional = cached
    names = [name for name, _ in fields]
    take = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    # Only the columns with a processor are touched one by one. Rows of a batch repeat values (one timestamp
    # for many rows, one policy per grid): each distinct value is converted once.
    processed = [(index, process, {}) for index, (_, process) in enumerate(fields) if process is not None]
    params = []
    for row in rows:
        values = take(row)
        if processed:
            values = list(values)
            for index, process, memo in processed:
                raw = values[index]
                if raw is None:
                    continue
                key = raw if raw.__hash__ is not None else id(raw)  # an unhashable value lives as long as the rows
                converted = memo.get(key, _MISSING)
                if converted is _MISSING:
                    converted = memo[key] = process(raw)
                values[index] = converted
        params.append(tuple(values) if positional else dict(zip(names, values, strict=True)))
    return Prepared(sql, params)


_MISSING = object()


def prepare_insert(dialect: Dialect, table: Table, rows: list[dict]) -> Prepared | None:
    """INSERT of rows that all give the same columns; None for no rows."""
    if not rows:
        return None
    columns = tuple(rows[0])

    def build():
        statement = insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        wanted = {c.key for c in table.columns if c.default is not None and c.key not in columns}
        if wanted:
            # A default computed in Python needs SQLAlchemy's execution context, which this path skips.
            raise TypeError(f"bulk insert into {table.name} leaves out {sorted(wanted)}, which have defaults")
        return statement

    return _convert(_compile(dialect, ("insert", table.name, columns), build), rows)


def prepare_update(dialect: Dialect, table: Table, rows: list[dict], *, key: tuple[str, ...]) -> Prepared | None:
    """UPDATE ... WHERE key columns = the row's, of rows that all set the same columns; None for no rows."""
    if not rows:
        return None
    columns = tuple(name for name in rows[0] if name not in key)

    def build():
        return update(table).where(*(table.c[name] == bindparam(f"k_{name}", type_=table.c[name].type)
                                     for name in key)).values(
            {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns})

    cached = _compile(dialect, ("update", table.name, key, columns), build)
    return _convert(cached, [{**{f"k_{k}": row[k] for k in key}, **{f"v_{c}": row[c] for c in columns}}
                             for row in rows])


def execute(conn: Connection, prepared: Prepared | None) -> None:
    if prepared is not None:
        conn.exec_driver_sql(prepared.sql, prepared.params)


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    """INSERT rows (dicts with the same keys) in one executemany."""
    execute(conn, prepare_insert(conn.dialect, table, rows))


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """Primary keys for count new rows of table, so that a bulk insert needs no RETURNING.

    Postgres draws them from the column's sequence. On SQLite the caller holds the write lock (BEGIN IMMEDIATE)
    from before this read, so nobody else can insert between it and the caller's insert.
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(conn.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                                 {"t": table.name, "n": count}).scalars())
    top = conn.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{table.name}"').scalar_one()
    return list(range(top + 1, top + 1 + count))
