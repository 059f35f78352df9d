from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect, text

from storage.db import make_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade


def test_migrations_match_the_models(engine: Engine, sqlite_url: str) -> None:
    command.check(alembic_config(sqlite_url))


def test_upgrade_reaches_head_and_is_idempotent(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert {"sources", "listings", "cases", "audit_events"} <= set(
        inspect(engine).get_table_names()
    )


def test_sqlite_runs_in_wal_mode(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_migrations_run_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        command.check(alembic_config(postgres_url))
    finally:
        engine.dispose()
