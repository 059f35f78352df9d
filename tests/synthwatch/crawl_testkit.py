"""A real crawl of the demo forum into a store, for the CLI tests that need stored evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crawlers.runner import CrawlOutcome, run_crawl
from crawlers.sources import load_sources
from demo.server import DemoServer
from synthwatch.demo import approve_demo_sources, ensure_demo_users, render_sources
from synthwatch.store import Store


def crawl_demo_forum(store: Store, env: dict[str, str], home: Path) -> CrawlOutcome:
    """Serve the demo site, approve its sources and crawl its forum in a child process."""
    with DemoServer() as site:
        sources = render_sources(site.base_url, home / "sources.toml")
        with store.sessions() as session:
            ensure_demo_users(session, datetime.now(UTC))
            approve_demo_sources(session, load_sources(sources), datetime.now(UTC))
        outcome = run_crawl(
            "demo-forum", sources=[sources], env=env, timeout=120, allow_loopback=True
        )
    assert outcome.ok, outcome.log_path.read_text()
    return outcome
