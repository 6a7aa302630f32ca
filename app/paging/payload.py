"""The pager webhook's JSON, built once per notification and kept as bytes."""

import json
import os
import time

from app.grids.models import Grid
from app.people.models import Person
from app.reports.models import Case, Category

SUMMARY_LENGTH = 70
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # json.dumps would build one per call


def new_id() -> str:
    """A UUIDv7 as 32 hex digits: unique, and in time order.

    Random ids (UUIDv4) landed on a random page of the notification and delivery-attempt indexes with every
    insert, so each sweep batch rewrote hundreds of index pages (SQLite writes whole pages to its WAL); ids in
    time order append to the end of those indexes. 74 random bits per millisecond keep them unguessable enough
    for what they are (a receiver's deduplication key, never an authorisation).
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & (1 << 48) - 1) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | rand & (1 << 62) - 1
    return f"{value:032x}"


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def summary(category: Category | None, description: str) -> str:
    """At most 70 characters: the category, then as much of the description as fits."""
    text = f"{category.name}：{description}" if category else description
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LENGTH else text[:SUMMARY_LENGTH - 1] + "…"


def build(*, notification_id: str, kind: str, level: int, recipient: dict, case: Case, category: Category | None,
          grid: Grid, ack_url: str | None) -> str:
    body = {
        "id": notification_id,
        "kind": kind,
        "level": level,
        "recipient": recipient,
        "case": {
            "tracking_code": case.tracking_code,
            "category": category.name if category else case.category_code,
            "grid": {"code": grid.code, "name": grid.name},
            "created_at": _iso(case.created_at),
            "contact_due_at": _iso(case.contact_due_at),
            "summary": summary(category, case.description),
        },
    }
    if ack_url is not None:
        body["ack_url"] = ack_url
    return _ENCODER.encode(body)


def staff_recipient(person: Person) -> dict:
    return {"role": person.role, "name": person.name, "phone": person.phone}


def resident_recipient(case: Case) -> dict:
    return {"role": "resident", "name": case.contact_name or "", "phone": case.contact_phone}
