"""Fixtures of the review tests: the shared migrated database, seeded; the app and its clients.

Seeding (argon2 hashes four passwords) costs as much as migrating, so it runs once per session
into a copy of the root conftest's migrated template; each test gets a copy of its own (the
seeded one when it asks for ``seed``).
The app keeps CSRF protection on, as in production: tests read the token from the login form.
"""

from __future__ import annotations

import copy
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from review import auth
from review.app import create_app
from review.settings import ReviewSettings
from storage.config import sqlite_url
from storage.db import make_engine, make_session_factory
from tests.conftest import migrated_copy
from tests.review.browser_testkit import CHROMIUM, CHROMIUM_FLAGS, keep_screenshots
from tests.review.review_testkit import (
    NOW,
    PASSWORD,
    SIGNING_KEY,
    Clock,
    Seed,
    login,
    seed_database,
    signed_in,
)


@dataclass(frozen=True)
class Templates:
    empty: Path
    seeded: Path
    seed: Seed


def _seed(engine_url: str) -> Seed:
    engine = make_engine(engine_url)
    seed = seed_database(make_session_factory(engine))
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return seed


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Hash test passwords with argon2id at its lowest cost: a login costs 1 ms, not 100.

    Production keeps argon2-cffi's defaults; the tests check the hash format, not its cost.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        auth._dummy_hash.cache_clear()
        yield
    auth._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def db_templates(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Path, cheap_password_hashing: None
) -> Templates:
    seeded = tmp_path_factory.mktemp("review-db") / "seeded.db"
    seed = _seed(migrated_copy(migrated_template, seeded))
    return Templates(migrated_template, seeded, seed)


@pytest.fixture
def factory(
    request: pytest.FixtureRequest, tmp_path: Path, db_templates: Templates
) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database of this test's own: seeded when the test uses ``seed``."""
    path = tmp_path / "synthwatch.db"
    seeded = "seed" in request.fixturenames
    shutil.copyfile(db_templates.seeded if seeded else db_templates.empty, path)
    engine = make_engine(sqlite_url(path))
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def seed(factory: sessionmaker[Session], db_templates: Templates) -> Seed:
    return copy.deepcopy(db_templates.seed)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """This test's $SYNTHWATCH_HOME, where WARC evidence files go."""
    folder = tmp_path / "home"
    (folder / "evidence").mkdir(parents=True)
    return folder


@pytest.fixture
def settings(home: Path) -> ReviewSettings:
    return ReviewSettings(
        secret_key="k" * 48,
        session_lifetime=timedelta(hours=8),
        evidence_home=home,
        signing_key=SIGNING_KEY,
    )


@pytest.fixture
def app(
    factory: sessionmaker[Session], seed: Seed, settings: ReviewSettings, clock: Clock
) -> Flask:
    return create_app(factory, settings, clock=clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def analyst(client: FlaskClient) -> FlaskClient:
    response = login(client, "ana", PASSWORD)
    assert response.status_code == 302
    return client


@pytest.fixture
def legal(app: Flask) -> FlaskClient:
    return signed_in(app, "lee")


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return signed_in(app, "adm")


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """Serve the app on 127.0.0.1, on a free port, in a thread."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser_context(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh headless Debian Chromium profile, driven by Playwright; the test's screenshots
    are kept as CI artefacts afterwards."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        yield context
        context.close()
    keep_screenshots(tmp_path, request.node.name)
