"""The whole pipeline on PostgreSQL: a real crawl of the demo forum into a database of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.config import StorageSettings
from storage.crawls import crawl_summary
from storage.models import Capture, Listing
from synthwatch.store import Store
from tests.synthwatch.crawl_testkit import crawl_demo_forum

pytestmark = pytest.mark.slow


def test_a_crawl_stores_and_flags_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    env = {
        "SYNTHWATCH_HOME": str(tmp_path),
        "SYNTHWATCH_DATABASE_URL": postgres_url,
        "SYNTHWATCH_CONTACT_URL": "http://127.0.0.1/contact",
    }
    store = Store.open(StorageSettings.from_env(env), migrate=True)
    try:
        outcome = crawl_demo_forum(store, env, tmp_path)
        assert outcome.run_id is not None
        with store.sessions() as session:
            summary = crawl_summary(session, [outcome.run_id], now=datetime.now(UTC))
            listings = session.scalars(select(Listing)).all()
            captures = session.scalars(select(Capture)).all()
        assert summary.listings_stored == len(listings) == len(captures) > 0
        # The isotonitazene thread, and thread 3120 reposting the classifieds' acetylfentanyl ad.
        assert summary.flagged == 2 and "isotonitazene" in summary.substances
    finally:
        store.engine.dispose()
