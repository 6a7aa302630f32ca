"""One settings object with the contract's names and defaults; production refuses unsafe values."""

import pytest

from app.config import DEV_SECRET_KEY, Settings


def test_defaults_match_the_contract():
    settings = Settings()
    assert settings.database_url == "sqlite:///./var/mashang.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.contact_sla_seconds == 1800
    assert settings.repage_seconds == 600
    assert settings.warning_lead_seconds == 600
    assert settings.escalation_step_seconds == 1800
    assert settings.timezone == "Asia/Shanghai"
    assert settings.rate_limits is True


def test_public_url_follows_host_and_port(monkeypatch):
    monkeypatch.setenv("MASHANG_HOST", "0.0.0.0")
    monkeypatch.setenv("MASHANG_PORT", "9000")
    assert Settings().public_url == "http://0.0.0.0:9000"


def test_public_url_set_explicitly_wins_and_loses_its_trailing_slash(monkeypatch):
    monkeypatch.setenv("MASHANG_PUBLIC_URL", "https://scan.example.cn/")
    assert Settings().public_url == "https://scan.example.cn"


def test_rate_limits_off_is_understood(monkeypatch):
    monkeypatch.setenv("MASHANG_RATE_LIMITS", "off")
    assert Settings().rate_limits is False


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("MASHANG_ENV", "production")
    monkeypatch.setenv("MASHANG_PUBLIC_URL", "https://scan.example.cn")
    monkeypatch.setenv("MASHANG_SECRET_KEY", DEV_SECRET_KEY)
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings()


def test_production_refuses_a_plain_http_public_url(monkeypatch):
    monkeypatch.setenv("MASHANG_ENV", "production")
    monkeypatch.setenv("MASHANG_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("MASHANG_PUBLIC_URL", "http://scan.example.cn")
    with pytest.raises(ValueError, match="https"):
        Settings()


def test_production_refuses_demo_passwords(monkeypatch):
    monkeypatch.setenv("MASHANG_ENV", "production")
    monkeypatch.setenv("MASHANG_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("MASHANG_PUBLIC_URL", "https://scan.example.cn")
    assert Settings().demo_passwords_allowed is False


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("MASHANG_CONTACT_SLA_SECONDS=60\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().contact_sla_seconds == 60
