"""The `mashang` command line: grids import, users add, qr rotate, demo."""

from sqlmodel import select
from typer.testing import CliRunner

from app.cli import cli
from app.db import session_scope
from app.grids.models import Grid
from app.people import service as people_service
from app.people.models import Person

runner = CliRunner()
HEADER = "code,name,level,parent_code,contact_name,contact_phone\n"


def _run(*args: str, stdin: str | None = None):
    return runner.invoke(cli, list(args), input=stdin)


def test_grids_import_reports_counts(db_url, tmp_path):
    path = tmp_path / "grids.csv"
    path.write_text(HEADER + "S1,街道,street,,,\nC1,社区,community,S1,王芳,13800000011\nG1,网格,grid,C1,,\n")
    result = _run("grids", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output and "vacant" in result.output


def test_grids_import_of_a_bad_file_exits_non_zero_and_prints_every_bad_line(db_url, tmp_path):
    path = tmp_path / "grids.csv"
    path.write_text(HEADER + "S1,街道,street,,,\nC1,,community,S1,,\nG1,网格,grid,NOPE,,\n")
    result = _run("grids", "import", str(path))
    assert result.exit_code != 0
    assert "line 3" in result.output and "line 4" in result.output and "nothing was imported" in result.output
    with session_scope() as s:
        assert s.exec(select(Grid)).all() == []


def test_grids_import_of_a_missing_file_is_a_clear_error(db_url, tmp_path):
    result = _run("grids", "import", str(tmp_path / "nope.csv"))
    assert result.exit_code != 0 and "cannot read" in result.output


def test_users_add_creates_then_updates_by_phone_with_password_and_post(db_url, demo):
    created = _run("users", "add", "--phone", "137 0000 0000", "--name", "新网格员", "--role", "worker",
                   "--grid", "BY-RML-LZL-03", "--password-stdin", stdin="a-good-password\n")
    assert created.exit_code == 0, created.output and "created" in created.output
    updated = _run("users", "add", "--phone", "+8613700000000", "--name", "新网格员甲", "--role", "worker")
    assert updated.exit_code == 0 and "updated" in updated.output
    with session_scope() as s:
        person = people_service.get_by_phone(s, phone="+8613700000000")
        grid = s.exec(select(Grid).where(Grid.code == "BY-RML-LZL-03")).one()
        assert person.name == "新网格员甲" and grid.contact_id == person.id
        assert people_service.verify_password(person, "a-good-password")


def test_users_add_refuses_a_bad_role_or_post(db_url, demo):
    assert _run("users", "add", "--phone", "13700000000", "--name", "某人", "--role", "mayor").exit_code != 0
    wrong_level = _run("users", "add", "--phone", "13700000000", "--name", "某人", "--role", "worker",
                       "--grid", "BY-RML-GYL")
    assert wrong_level.exit_code != 0 and "community" in wrong_level.output
    with session_scope() as s:
        assert people_service.get_by_phone(s, phone="+8613700000000") is None


def test_users_add_refuses_a_bad_phone(db_url):
    result = _run("users", "add", "--phone", "12345", "--name", "某人", "--role", "admin")
    assert result.exit_code != 0 and "phone" in result.output.lower()


def test_qr_rotate_prints_the_new_link(db_url, demo):
    result = _run("qr", "rotate", "BY-RML-GYL-01")
    assert result.exit_code == 0 and "/g/" in result.output


def test_qr_rotate_of_an_unknown_or_non_grid_code_is_an_error(db_url, demo):
    assert _run("qr", "rotate", "NOPE").exit_code != 0
    assert _run("qr", "rotate", "BY-RML-GYL").exit_code != 0


def test_demo_loads_once_and_prints_logins_and_links(db_url):
    first = _run("demo")
    assert first.exit_code == 0 and "Loaded the demo city" in first.output
    assert "mashang-demo" in first.output and "/g/" in first.output and "vacant" in first.output
    second = _run("demo")
    assert second.exit_code == 0 and "Loaded" not in second.output
    with session_scope() as s:
        assert len(s.exec(select(Grid)).all()) == 9
        assert len(s.exec(select(Person)).all()) == 9


def test_demo_is_refused_in_production(db_url, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("MASHANG_ENV", "production")
    monkeypatch.setenv("MASHANG_SECRET_KEY", "p" * 40)
    monkeypatch.setenv("MASHANG_PUBLIC_URL", "https://scan.example.cn")
    get_settings.cache_clear()
    result = _run("demo")
    assert result.exit_code != 0 and "production" in result.output


def test_production_with_dev_secret_refuses_to_start(db_url, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("MASHANG_ENV", "production")
    get_settings.cache_clear()
    result = _run("migrate")
    assert result.exit_code == 2 and "Settings refused" in result.output
