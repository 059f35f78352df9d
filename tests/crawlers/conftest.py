"""Fixtures of the crawler tests: a scripted server on 127.0.0.1 and a crawl harness."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.crawlers.harness import Harness, MockServer


@pytest.fixture
def server() -> Iterator[MockServer]:
    mock = MockServer()
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def harness(
    tmp_path: Path,
    sqlite_url: str,
    session_factory: sessionmaker[Session],
    now: datetime,
) -> Harness:
    return Harness(tmp_path, sqlite_url, session_factory, now)
