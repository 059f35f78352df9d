"""Fixtures shared by every test package: a migrated database of each test's own, a frozen clock.

Migrating costs a quarter of a second, so it runs once per session into a template file that
each test copies; PostgreSQL tests still create (and migrate) a database of their own.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from storage.config import sqlite_url as sqlite_url_of
from storage.db import make_engine, make_session_factory
from storage.migrate import alembic_config, upgrade

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# A Wednesday in ISO week 2026-W48 (Monday 23 November to Sunday 29 November 2026).
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# That week as [Monday 00:00, next Monday 00:00): what a weekly digest of NOW covers.
NOW_WEEK = (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip tests that read ../shared/data when it is absent (a user's machine)."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED_DATA} is absent")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def now() -> datetime:
    """A fixed, timezone-aware 'now' (a Wednesday of ISO week 2026-W48)."""
    return NOW


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database migrated once per session; tests get copies (`migrated_copy`)."""
    path = tmp_path_factory.mktemp("db-template") / "migrated.db"
    engine = make_engine(sqlite_url_of(path))
    upgrade(engine)
    with engine.connect() as connection:
        # Everything in the main file, so that copying the file copies the database.
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


def migrated_copy(template: Path, path: Path) -> str:
    """Copy the migrated template database to `path`; return its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return sqlite_url_of(path)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to an older revision, keeping its rows."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of this test's SQLite file, not created: `engine` fills it with a migrated copy."""
    return sqlite_url_of(tmp_path / "synthwatch.db")


@pytest.fixture
def engine(tmp_path: Path, sqlite_url: str, migrated_template: Path) -> Iterator[Engine]:
    """A migrated SQLite database of this test's own."""
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new PostgreSQL database for this test, dropped afterwards; skipped without a server."""
    server = os.environ.get("SYNTHWATCH_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("SYNTHWATCH_TEST_POSTGRES_URL is not set")
    url = make_url(server).set(drivername="postgresql+psycopg")
    name = f"synthwatch_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database of this test's own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("engine")
        return
    engine = make_engine(request.getfixturevalue("postgres_url"))
    upgrade(engine)
    yield engine
    engine.dispose()
