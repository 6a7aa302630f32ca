"""Run Alembic migrations (the only way the schema is made), under a lock across instances."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.config import Settings, get_settings
from app.db import migration_lock

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings | None = None, revision: str = "head") -> None:
    """Bring the database to revision; several instances may call this at once."""
    settings = settings or get_settings()
    with migration_lock(settings):
        command.upgrade(alembic_config(settings.database_url), revision)


def downgrade(settings: Settings | None = None, revision: str = "base") -> None:
    settings = settings or get_settings()
    with migration_lock(settings):
        command.downgrade(alembic_config(settings.database_url), revision)
