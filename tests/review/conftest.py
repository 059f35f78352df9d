"""Fixtures of the review tests: the shared migrated database, seeded; the app and its clients.

The app keeps CSRF protection on, as in production: tests read the token from the login form.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from review.app import create_app
from review.settings import ReviewSettings
from tests.review.review_testkit import NOW, PASSWORD, Clock, Seed, login, seed_database


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The session factory of this test's migrated SQLite database (from tests/conftest.py)."""
    return session_factory


@pytest.fixture
def seed(factory: sessionmaker[Session]) -> Seed:
    return seed_database(factory)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def settings() -> ReviewSettings:
    return ReviewSettings(secret_key="k" * 48, session_lifetime=timedelta(hours=8))


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
