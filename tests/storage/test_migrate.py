from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from storage.db import make_engine, make_session_factory, transaction
from storage.errors import MigrationError
from storage.listings import IndicatorRecord, shared_identifier_listings
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from tests.conftest import downgrade
from tests.factories import add_offer

SESSION_ID = "05" + "3f" * 32


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


def fake_identifier_key(kind: str, text: str, value: str) -> str | None:
    """Stand in for ``nlp.identifier_key``: a contact's last word under its channel."""
    return f"{value}:{text.split()[-1].lower()}" if kind == "contact" else None


def stored_at_0004(engine: Engine, now: datetime) -> list[int]:
    """Store two listings sharing a Session id, then take the database back to revision 0004."""
    # More rows than one batch of the backfill (1000), the contact in the second batch.
    prices = [IndicatorRecord("price", 0, 4, "$120", "USD 120")] * 1000
    with transaction(make_session_factory(engine)) as session:
        ids = [
            add_offer(
                session,
                now,
                f"https://shop.example/{n}",
                *prices,
                IndicatorRecord("contact", 0, len(written), written, "session"),
            )
            for n, written in enumerate((f"Session: {SESSION_ID}", f"session id {SESSION_ID}"))
        ]
    downgrade(engine, "0004")
    return ids


def test_0005_fills_the_keys_of_stored_indicators(any_engine: Engine, now: datetime) -> None:
    engine = any_engine
    first, second = stored_at_0004(engine, now)

    upgrade(engine, identifier_key=fake_identifier_key)

    with engine.connect() as connection:
        keys = connection.execute(text("SELECT kind, key FROM indicators")).all()
    assert {(kind, key) for kind, key in keys} == {
        ("price", None),
        ("contact", f"session:{SESSION_ID}"),
    }
    with make_session_factory(engine)() as session:
        assert [s.listing_id for s in shared_identifier_listings(session, first)] == [second]


def test_0005_refuses_to_leave_stored_indicators_without_keys(
    any_engine: Engine, now: datetime
) -> None:
    engine = any_engine
    stored_at_0004(engine, now)

    with pytest.raises(MigrationError, match="identifier_key"):
        upgrade(engine)

    assert current_revision(engine) == "0004"
    assert "key" not in {c["name"] for c in inspect(engine).get_columns("indicators")}
