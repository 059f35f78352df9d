"""The whole pipeline on PostgreSQL: a real crawl of the demo forum into a database of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crawlers.runner import run_crawl
from crawlers.sources import load_sources
from demo.server import DemoServer
from storage.config import StorageSettings
from storage.crawls import crawl_summary
from storage.models import Capture, Listing
from synthwatch.demo import approve_demo_sources, ensure_demo_users, render_sources
from synthwatch.store import Store

pytestmark = pytest.mark.slow


def test_a_crawl_stores_and_flags_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    env = {
        "SYNTHWATCH_HOME": str(tmp_path),
        "SYNTHWATCH_DATABASE_URL": postgres_url,
        "SYNTHWATCH_CONTACT_URL": "http://127.0.0.1/contact",
    }
    store = Store.open(StorageSettings.from_env(env), migrate=True)
    try:
        with DemoServer() as site:
            sources = render_sources(site.base_url, tmp_path / "sources.toml")
            with store.sessions() as session:
                ensure_demo_users(session, datetime.now(UTC))
                approve_demo_sources(session, load_sources(sources), datetime.now(UTC))
            outcome = run_crawl(
                "demo-forum", sources=[sources], env=env, timeout=120, allow_loopback=True
            )
        assert outcome.ok, outcome.log_path.read_text()
        assert outcome.run_id is not None
        with store.sessions() as session:
            summary = crawl_summary(session, [outcome.run_id], now=datetime.now(UTC))
            listings = session.scalars(select(Listing)).all()
            captures = session.scalars(select(Capture)).all()
        assert summary.listings_stored == len(listings) == len(captures) > 0
        assert summary.flagged == 1 and "isotonitazene" in summary.substances
    finally:
        store.engine.dispose()
