"""The long-lived heap of a server process, kept out of the garbage collector's way.

A serving process imports FastAPI, Pydantic and SQLAlchemy: tens of thousands of tracked objects that live until
it exits (tests/test_heap.py holds that more than 10,000 are frozen). Each request and each sweep batch
allocates many short-lived objects, and every full collection they trigger walks the whole heap, stalling every
request in flight. What freezing does to report intake's CPU per report and p99 is in the README (bench_intake,
with and without MASHANG_FREEZE_HEAP=off). Objects made later are still collected as usual.
"""

import gc

from app.config import Settings


def freeze_startup_heap(settings: Settings) -> None:
    """Move everything alive now into the permanent generation, once the process has finished starting.

    Unless MASHANG_FREEZE_HEAP is off (the tests: one test process builds many apps and would keep them all).
    """
    if not settings.freeze_heap:
        return
    gc.collect()  # what startup already dropped must not be frozen with the rest
    gc.freeze()
