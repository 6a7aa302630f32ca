"""Abuse limits: per phone in the database (every instance shares them), per client address in memory."""

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.reports.models import RateCounter

# (window seconds, most reports in it). Ten reports in an afternoon by one grid worker pass; a flood does not.
PHONE_LIMITS: tuple[tuple[int, int], ...] = ((3600, 20), (86400, 60))
ADDRESS_LIMIT = (600, 120)

table = RateCounter.__table__


def _insert(conn: Connection):
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def over_limit(conn: Connection, *, keys: list[list[str]], now: datetime) -> dict[int, int]:
    """Count each report against its keys; {position: retry-after seconds} for those over a limit."""
    epoch = int(now.timestamp())
    wanted = Counter(key for item in keys for key in item)
    totals: dict[tuple[str, int], int] = {}
    for key, n in wanted.items():
        for seconds, _ in PHONE_LIMITS:
            window = epoch // seconds
            stmt = _insert(conn).values(key=f"{key}/{seconds}", window=window, count=n,
                                        expires_at=now + timedelta(seconds=2 * seconds))
            stmt = stmt.on_conflict_do_update(index_elements=["key", "window"],
                                              set_={"count": table.c.count + stmt.excluded.count})
            totals[(key, seconds)] = conn.execute(stmt.returning(table.c.count)).scalar_one() - n
    refused: dict[int, int] = {}
    for position, item in enumerate(keys):
        for key in item:
            for seconds, limit in PHONE_LIMITS:
                totals[(key, seconds)] += 1
                if totals[(key, seconds)] > limit:
                    refused[position] = max(refused.get(position, 0), seconds - epoch % seconds)
    return refused


def purge(conn: Connection, *, now: datetime) -> None:
    conn.execute(delete(table).where(table.c.expires_at < now))


class AddressLimiter:
    """A fixed-window counter per client address, for one instance."""

    def __init__(self, window_seconds: int = ADDRESS_LIMIT[0], limit: int = ADDRESS_LIMIT[1]) -> None:
        self.window_seconds, self.limit = window_seconds, limit
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, address: str) -> int | None:
        """None if allowed, else seconds until the window turns."""
        now = time.time()
        window = int(now // self.window_seconds)
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts = {a: c for a, c in self._counts.items() if c[0] == window}
            seen_window, count = self._counts.get(address, (window, 0))
            count = count + 1 if seen_window == window else 1
            self._counts[address] = (window, count)
        if count > self.limit:
            return int(self.window_seconds - now % self.window_seconds) + 1
        return None
