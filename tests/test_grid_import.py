"""The grid file: upsert by code, never delete; any bad row imports nothing and is named by line."""

import pytest
from sqlmodel import select

from app.grids.importer import GridFileError, import_grids
from app.grids.models import Grid, GridToken
from app.people.models import Person

HEADER = "code,name,level,parent_code,contact_name,contact_phone,backup_name,backup_phone,office_phone\n"
GOOD = HEADER + (
    "S1,白银区人民路街道,street,,马建国,13800000001,,,\n"
    "C1,公园路社区,community,S1,王芳,138-0000-0011,,,0943-8221234\n"
    "G1,公园路社区第一网格,grid,C1,张伟,+86 138 0000 0101,刘洋,13800000102,\n"
    "G2,公园路社区第二网格,grid,C1,,,,,\n"
)


def _grids(session) -> dict[str, Grid]:
    return {g.code: g for g in session.exec(select(Grid))}


def _error_lines(data: str, session) -> list[tuple[int, str]]:
    with pytest.raises(GridFileError) as caught:
        import_grids(session, data=data.encode())
    return [(e.line, e.reason) for e in caught.value.errors]


def test_good_file_creates_tree_people_and_tokens(session):
    result = import_grids(session, data=GOOD.encode())
    grids = _grids(session)
    assert result.created == 4
    assert grids["G1"].parent_id == grids["C1"].id and grids["C1"].parent_id == grids["S1"].id
    worker = session.get(Person, grids["G1"].contact_id)
    assert (worker.phone, worker.role, worker.password_hash) == ("+8613800000101", "worker", None)
    assert session.get(Person, grids["G1"].backup_id).phone == "+8613800000102"
    assert grids["C1"].office_phone == "+869438221234"
    assert result.tokens_issued == 2
    assert len(session.exec(select(GridToken)).all()) == 2


def test_vacant_post_is_allowed_and_reported(session):
    result = import_grids(session, data=GOOD.encode())
    assert _grids(session)["G2"].contact_id is None
    assert result.vacant == ["G2"]


def test_importing_the_same_file_twice_changes_nothing(session):
    import_grids(session, data=GOOD.encode())
    before = {g.code: (g.updated_at, g.contact_id) for g in _grids(session).values()}
    tokens = set(session.exec(select(GridToken.token)))
    again = import_grids(session, data=GOOD.encode())
    session.expire_all()
    assert (again.created, again.updated, again.unchanged, again.tokens_issued) == (0, 0, 4, 0)
    assert {g.code: (g.updated_at, g.contact_id) for g in _grids(session).values()} == before
    assert set(session.exec(select(GridToken.token))) == tokens


def test_upsert_updates_by_code_and_never_deletes(session):
    import_grids(session, data=GOOD.encode())
    result = import_grids(session, data=(HEADER + "G1,第一网格（新名）,grid,C1,陈静,13800000103,,,\n").encode())
    session.expire_all()
    grids = _grids(session)
    assert result.updated == 1
    assert grids["G1"].name == "第一网格（新名）"
    assert session.get(Person, grids["G1"].contact_id).name == "陈静"
    assert set(grids) == {"S1", "C1", "G1", "G2"}


def test_a_utf8_bom_from_excel_is_fine(session):
    result = import_grids(session, data=b"\xef\xbb\xbf" + GOOD.encode())
    assert result.created == 4


def test_a_bad_file_imports_nothing_and_names_every_bad_line(session):
    bad = HEADER + (
        "S1,街道,street,,,,,,\n"                          # 2 ok
        "bad code!,名字,grid,C9,,,,,\n"                    # 3 malformed code (and unknown parent)
        "C1,,community,S1,,,,,\n"                         # 4 empty name
        "C2,社区,community,NOPE,,,,,\n"                    # 5 unknown parent
        "G1,网格,grid,S1,,,,,\n"                           # 6 wrong-level parent
        "G2,网格,grid,C2,张伟,12345,,,\n"                   # 7 bad phone
        "S1,又一个街道,street,,,,,,\n"                     # 8 duplicate code
        "G3,网格,planet,C2,,,,,\n"                         # 9 bad level
        "G4,网格,grid,C2,,\n"                              # 10 missing columns
        "G5,网格,grid,G5,,,,,\n"                           # 11 its own parent
    )
    lines = _error_lines(bad, session)
    assert sorted({line for line, _ in lines}) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert session.exec(select(Grid)).all() == []
    assert session.exec(select(Person)).all() == []


def test_a_bad_row_leaves_existing_grids_untouched(session):
    import_grids(session, data=GOOD.encode())
    _error_lines(HEADER + "G1,改名,grid,C1,,,,,\nG9,新网格,grid,NOPE,,,,,\n", session)
    assert _grids(session)["G1"].name == "公园路社区第一网格"
    assert "G9" not in _grids(session)


def test_missing_columns_are_named(session):
    lines = _error_lines("code,name,level\nS1,街道,street\n", session)
    assert lines[0][0] == 1 and "parent_code" in lines[0][1] and "contact_phone" in lines[0][1]


def test_non_utf8_bytes_are_refused_with_their_line(session):
    data = HEADER.encode() + "S1,街道,street,,,,,,\n".encode() + "S2,街道".encode("gbk") + b",street,,,,,,\n"
    with pytest.raises(GridFileError) as caught:
        import_grids(session, data=data)
    assert [e.line for e in caught.value.errors] == [3]
    assert "UTF-8" in caught.value.errors[0].reason


def test_a_level_change_of_an_existing_grid_is_refused(session):
    import_grids(session, data=GOOD.encode())
    lines = _error_lines(HEADER + "G1,网格,community,S1,,,,,\n", session)
    assert lines[0][0] == 2 and "level" in lines[0][1]


def test_one_phone_with_two_names_is_refused(session):
    lines = _error_lines(HEADER + "S1,街道,street,,马建国,13800000001,,,\nS2,街道二,street,,马建军,13800000001,,,\n",
                         session)
    assert lines == [(3, lines[0][1])] and "13800000001"[-4:] in lines[0][1]


def test_parent_may_come_later_in_the_file(session):
    data = HEADER + "G1,网格,grid,C1,,,,,\nC1,社区,community,S1,,,,,\nS1,街道,street,,,,,,\n"
    assert import_grids(session, data=data.encode()).created == 3


def test_a_lanzhou_sized_file_imports(session):
    rows = [HEADER]
    for s in range(118):
        rows.append(f"S{s},街道{s},street,,主任{s},1390{s:07d},,,\n")
    for c in range(1184):
        rows.append(f"C{c},社区{c},community,S{c % 118},书记{c},1370{c:07d},,,0931{c:07d}\n")
    for g in range(8447):
        rows.append(f"G{g},网格{g},grid,C{g % 1184},网格员{g},1360{g:07d},,,\n")
    result = import_grids(session, data="".join(rows).encode())
    assert result.created == 118 + 1184 + 8447
    assert result.tokens_issued == 8447
    assert import_grids(session, data="".join(rows).encode()).unchanged == 118 + 1184 + 8447
