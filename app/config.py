"""One settings object, read from the environment (prefix MASHANG_) and an optional .env file."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
DEMO_PASSWORD = "mashang-demo"


class SettingsError(ValueError):
    """A setting that may not be used as given."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MASHANG_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/mashang.db"
    media_dir: Path = Path("./var/media")
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    timezone: str = "Asia/Shanghai"
    contact_sla_seconds: int = 1800
    repage_seconds: int = 600
    warning_lead_seconds: int = 600
    escalation_step_seconds: int = 1800
    pager_webhook_url: str | None = None
    pager_webhook_secret: str | None = None
    pager_min_interval_seconds: int = 60
    rate_limits: bool = True
    session_ttl_seconds: int = 12 * 3600
    login_max_failures: int = 5
    login_window_seconds: int = 900
    font_path: Path | None = None
    vapid_public_key: str | None = None
    vapid_private_key: str | None = None
    vapid_subject: str = "mailto:ops@mashang.invalid"
    scheduler: bool = True
    sweep_interval_seconds: float = 1.0
    freeze_heap: bool = True  # see app.heap
    # Set by `mashang serve` for its workers and its ticker process (app.escalation.process), not by people.
    ticker_socket: str | None = None
    ticker_parent_pid: int | None = None

    @field_validator("rate_limits", "scheduler", "freeze_heap", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"on", "off"}:
            return value.strip().lower() == "on"
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _derive_and_guard(self) -> "Settings":
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        if self.is_production:
            if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
                raise SettingsError(
                    "MASHANG_SECRET_KEY must be set to a random value of at least 32 characters in production"
                )
            if not self.public_url.startswith("https://"):
                raise SettingsError("MASHANG_PUBLIC_URL must be an https:// URL in production")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def web_push_enabled(self) -> bool:
        return bool(self.vapid_public_key and self.vapid_private_key)

    @property
    def demo_passwords_allowed(self) -> bool:
        return not self.is_production


@lru_cache
def get_settings() -> Settings:
    return Settings()
