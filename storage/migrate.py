"""Run the Alembic migrations shipped in ``storage/migrations``."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from storage.errors import MigrationError

SCRIPT_LOCATION = "storage:migrations"

# (kind, matched text, value) of a stored indicator → its identifier key, or None.
IdentifierKey = Callable[[str, str, str], str | None]


def alembic_config(database_url: str) -> Config:
    """Return an Alembic configuration for this database, without an ini file."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(
    engine: Engine, revision: str = "head", *, identifier_key: IdentifierKey | None = None
) -> None:
    """Migrate the database to ``revision`` (the newest by default).

    ``identifier_key`` is extraction's ``nlp.identifier_key``, which migration 0005 needs to fill
    the identifier keys of indicators already stored; without it that migration refuses to run
    on a database holding indicators rather than leave their keys empty.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["identifier_key"] = identifier_key
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """Return the database's revision, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """Return the newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise MigrationError("no migrations found in storage/migrations")
    return head


def require_current(engine: Engine) -> None:
    """Raise MigrationError unless the database is at the newest revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise MigrationError(
            f"database is at revision {current or 'none'}, this code needs {head}: "
            "run `synthwatch db upgrade`"
        )
