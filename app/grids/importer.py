"""The grid file: validate every row first, then upsert by code in one transaction, or import nothing."""

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import insert, update
from sqlmodel import Session, select

from app import clock
from app.errors import InvalidInput
from app.grids.models import LEVELS, Grid, GridToken, Level, parent_level
from app.grids.service import new_token
from app.people.models import Person, Role
from app.phones import normalize_phone

REQUIRED = ("code", "name", "level", "parent_code", "contact_name", "contact_phone")
OPTIONAL = ("backup_name", "backup_phone", "office_phone")
CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ROLE_FOR_LEVEL = {Level.street: Role.supervisor, Level.community: Role.dispatcher, Level.grid: Role.worker}


@dataclass
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class GridFileError(InvalidInput):
    """A grid file with bad rows; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__(
            "validation_error", field="file",
            message=f"网格文件有 {len(errors)} 处错误，未导入任何内容",
            message_en=f"The grid file has {len(errors)} bad row(s); nothing was imported",
        )


@dataclass
class ParsedRow:
    line: int
    code: str
    name: str
    level: Level
    parent_code: str | None
    contact: tuple[str, str] | None  # (name, E.164)
    backup: tuple[str, str] | None
    office_phone: str | None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    people_created: int = 0
    people_updated: int = 0
    tokens_issued: int = 0
    vacant: list[str] = field(default_factory=list)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        errors = []
        for number, raw_line in enumerate(data.split(b"\n"), start=1):
            try:
                raw_line.decode("utf-8")
            except UnicodeDecodeError as exc:
                errors.append(RowError(number, f"not UTF-8 (byte {exc.start + 1} of the line); "
                                               "save the file as UTF-8 (Excel: 'CSV UTF-8')"))
        raise GridFileError(errors) from None


def _person(name: str, phone: str, *, what: str, line: int, errors: list[RowError]) -> tuple[str, str] | None:
    if not name and not phone:
        return None
    if not phone:
        errors.append(RowError(line, f"{what}_name is given but {what}_phone is empty"))
        return None
    if not name:
        errors.append(RowError(line, f"{what}_phone is given but {what}_name is empty"))
        return None
    if len(name) > 100:
        errors.append(RowError(line, f"{what}_name is longer than 100 characters"))
        return None
    try:
        return name, normalize_phone(phone)
    except InvalidInput:
        errors.append(RowError(line, f"{what}_phone {phone!r} is not a valid phone number"))
        return None


def parse(data: bytes) -> tuple[list[ParsedRow], list[RowError]]:
    """Rows of a grid file checked on their own, and the errors of those that fail (a bad header raises)."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise GridFileError([RowError(1, "the file is empty; the first line must be the header")]) from None
    except csv.Error as exc:
        raise GridFileError([RowError(1, f"unreadable CSV: {exc}")]) from None
    errors: list[RowError] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing:
        errors.append(RowError(1, f"missing column(s): {', '.join(missing)}"))
    if unknown:
        errors.append(RowError(1, f"unknown column(s): {', '.join(unknown)}"))
    if duplicated:
        errors.append(RowError(1, f"column(s) named twice: {', '.join(duplicated)}"))
    if errors:
        raise GridFileError(errors)
    rows: list[ParsedRow] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                errors.append(RowError(line, f"expected {len(header)} columns, found {len(values)}"))
                continue
            cell = dict(zip(header, (v.strip() for v in values), strict=True))
            row = _parse_row(line, cell, errors)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, f"unreadable CSV: {exc}"))
    return rows, errors


def _parse_row(line: int, cell: dict[str, str], errors: list[RowError]) -> ParsedRow | None:
    before = len(errors)
    code, name, level_text = cell["code"], cell["name"], cell["level"].lower()
    if not CODE_RE.match(code):
        errors.append(RowError(line, f"code {code!r} must be 1-64 characters of A-Z a-z 0-9 . _ -"))
    if not name:
        errors.append(RowError(line, "name is empty"))
    elif len(name) > 200:
        errors.append(RowError(line, "name is longer than 200 characters"))
    level = Level(level_text) if level_text in {lv.value for lv in LEVELS} else None
    if level is None:
        errors.append(RowError(line, f"level {cell['level']!r} must be one of street, community, grid"))
    parent_code = cell["parent_code"] or None
    if level == Level.street and parent_code:
        errors.append(RowError(line, "a street has no parent_code"))
    if level in (Level.community, Level.grid) and not parent_code:
        errors.append(RowError(line, f"a {level} needs a parent_code"))
    if parent_code and parent_code == code:
        errors.append(RowError(line, "a grid cannot be its own parent"))
    contact = _person(cell["contact_name"], cell["contact_phone"], what="contact", line=line, errors=errors)
    backup = _person(cell.get("backup_name", ""), cell.get("backup_phone", ""), what="backup",
                     line=line, errors=errors)
    if backup is not None and level != Level.grid:
        errors.append(RowError(line, "only a basic grid (level grid) has a backup worker"))
    office_phone = None
    if cell.get("office_phone"):
        if level != Level.community:
            errors.append(RowError(line, "office_phone is a community's public number; this row is not one"))
        else:
            try:
                office_phone = normalize_phone(cell["office_phone"])
            except InvalidInput:
                errors.append(RowError(line, f"office_phone {cell['office_phone']!r} is not a valid phone number"))
    if len(errors) > before or level is None:
        return None
    return ParsedRow(line, code, name, level, parent_code, contact, backup, office_phone)


def _check_together(rows: list[ParsedRow], existing: dict[str, tuple[int, str, int | None]]) -> list[RowError]:
    """Duplicates, parents (known, right level), level changes and one name per phone."""
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    level_of = {code: level for code, (_, level, _) in existing.items()}
    for row in rows:
        if row.code in first_line:
            errors.append(RowError(row.line, f"code {row.code} is already used on line {first_line[row.code]}"))
        else:
            first_line[row.code] = row.line
            level_of[row.code] = row.level
    for row in rows:
        if row.code in existing and existing[row.code][1] != row.level:
            errors.append(RowError(row.line, f"{row.code} is already a {existing[row.code][1]}; "
                                             "a grid's level cannot change"))
        if row.parent_code is None:
            continue
        parent = level_of.get(row.parent_code)
        if parent is None:
            errors.append(RowError(row.line, f"parent_code {row.parent_code} is neither in this file "
                                             "nor already imported"))
        elif parent != parent_level(row.level):
            errors.append(RowError(row.line, f"parent {row.parent_code} is a {parent}; a {row.level}'s parent "
                                             f"must be a {parent_level(row.level)}"))
    names: dict[str, tuple[str, int]] = {}
    for row in rows:
        for person in (row.contact, row.backup):
            if person is None:
                continue
            name, phone = person
            if phone in names and names[phone][0] != name:
                errors.append(RowError(row.line, f"phone {phone} is {names[phone][0]!r} on line "
                                                 f"{names[phone][1]} but {name!r} here"))
            names.setdefault(phone, (name, row.line))
    return errors


def import_grids(session: Session, *, data: bytes) -> ImportResult:
    """Upsert every row of a grid file; GridFileError (and nothing written) if any row is bad."""
    rows, errors = parse(data)
    existing = {
        code: (grid_id, level, parent_id)
        for grid_id, code, level, parent_id in session.exec(select(Grid.id, Grid.code, Grid.level, Grid.parent_id))
    }
    errors += _check_together(rows, existing)
    if errors:
        errors.sort(key=lambda e: e.line)
        raise GridFileError(errors)
    result = ImportResult()
    now = clock.now()
    people = _upsert_people(session, rows=rows, now=now, result=result)

    depth = {level: index for index, level in enumerate(LEVELS)}
    rows.sort(key=lambda r: depth[r.level])
    ids = {code: grid_id for code, (grid_id, _, _) in existing.items()}
    current = {g.code: g for g in session.exec(select(Grid))}
    for level in LEVELS:
        batch = [r for r in rows if r.level == level]
        inserts, updates = [], []
        for row in batch:
            values = {
                "code": row.code, "name": row.name, "level": row.level.value,
                "parent_id": ids[row.parent_code] if row.parent_code else None,
                "contact_id": people[row.contact[1]] if row.contact else None,
                "backup_id": people[row.backup[1]] if row.backup else None,
                "office_phone": row.office_phone,
            }
            if row.contact is None:
                result.vacant.append(row.code)
            old = current.get(row.code)
            if old is None:
                inserts.append({**values, "created_at": now, "updated_at": now})
            elif any(getattr(old, key) != value for key, value in values.items()):
                updates.append({**values, "id": old.id, "updated_at": now})
            else:
                result.unchanged += 1
        if inserts:
            session.execute(insert(Grid), inserts)
            result.created += len(inserts)
        if updates:
            session.execute(update(Grid), updates)
            result.updated += len(updates)
        if inserts:
            codes = [r["code"] for r in inserts]
            for chunk in range(0, len(codes), 5000):
                part = codes[chunk:chunk + 5000]
                ids.update(session.exec(select(Grid.code, Grid.id).where(Grid.code.in_(part))).all())
    result.tokens_issued = _issue_missing_tokens(session, now=now)
    session.flush()
    return result


def _upsert_people(session: Session, *, rows: list[ParsedRow], now, result: ImportResult) -> dict[str, int]:
    wanted: dict[str, tuple[str, Role]] = {}
    for row in rows:
        if row.contact:
            wanted.setdefault(row.contact[1], (row.contact[0], ROLE_FOR_LEVEL[row.level]))
        if row.backup:
            wanted.setdefault(row.backup[1], (row.backup[0], Role.worker))
    known = {phone: (pid, name) for pid, phone, name in session.exec(select(Person.id, Person.phone, Person.name))}
    inserts = [
        {"phone": phone, "name": name, "role": role.value, "created_at": now, "updated_at": now}
        for phone, (name, role) in wanted.items() if phone not in known
    ]
    renames = [
        {"id": known[phone][0], "name": name, "updated_at": now}
        for phone, (name, _) in wanted.items() if phone in known and known[phone][1] != name
    ]
    if inserts:
        session.execute(insert(Person), inserts)
    if renames:
        session.execute(update(Person), renames)
    result.people_created, result.people_updated = len(inserts), len(renames)
    ids = {phone: pid for phone, (pid, _) in known.items()}
    if inserts:
        ids.update(session.exec(select(Person.phone, Person.id)).all())
    return ids


def _issue_missing_tokens(session: Session, *, now) -> int:
    with_token = set(session.exec(select(GridToken.grid_id).where(GridToken.replaced_at.is_(None))))
    missing = [gid for gid in session.exec(select(Grid.id).where(Grid.level == Level.grid)) if gid not in with_token]
    if missing:
        session.execute(insert(GridToken), [
            {"token": new_token(), "grid_id": gid, "created_at": now, "replaced_at": None} for gid in missing
        ])
    return len(missing)
