"""The page count a crawl run from the CLI shows while its child process crawls."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from crawlers.runner import CrawlOutcome
from storage.config import StorageSettings
from storage.crawls import finish_crawl_run, start_crawl_run
from synthwatch.progress import captured_so_far, crawl_with_progress
from synthwatch.store import Store
from tests.conftest import migrated_copy
from tests.factories import add_capture, add_source


@pytest.fixture
def store(tmp_path: Path, migrated_template: Path) -> Store:
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    settings = StorageSettings.from_env({"SYNTHWATCH_HOME": str(tmp_path)})
    return Store.open(settings, migrate=False)


def test_the_count_is_the_captures_of_the_running_run(store: Store, now: datetime) -> None:
    since = now - timedelta(seconds=1)
    with store.sessions() as session:
        add_source(session, now)
    assert captured_so_far(store, "shop", since) is None

    with store.sessions() as session:
        run = start_crawl_run(session, source_id="shop", now=now)
        run_id = run.id
    assert captured_so_far(store, "shop", since) == 0

    with store.sessions() as session:
        add_capture(session, run_id, "https://shop.example/item/1", now)
        add_capture(session, run_id, "https://shop.example/item/2", now)
    assert captured_so_far(store, "shop", since) == 2

    with store.sessions() as session:
        finished = session.merge(run)
        finish_crawl_run(session, finished, now=now, status="finished", stats={})
    assert captured_so_far(store, "shop", since) is None, "a finished run is no longer counted"


def test_a_run_older_than_the_crawl_is_not_counted(store: Store, now: datetime) -> None:
    with store.sessions() as session:
        add_source(session, now)
        start_crawl_run(session, source_id="shop", now=now - timedelta(hours=1))
    assert captured_so_far(store, "shop", now - timedelta(seconds=5)) is None


def test_the_crawl_runs_in_the_calling_thread_and_its_outcome_is_returned(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[str, dict[str, Any], bool]] = []
    outcome = CrawlOutcome("shop", 0, 0.7, tmp_path / "log", run_id=1, status="finished")

    def fake(source_id: str, **kwargs: Any) -> CrawlOutcome:
        calls.append((source_id, kwargs, threading.current_thread() is threading.main_thread()))
        threading.Event().wait(0.7)  # long enough for the watcher to poll the database
        return outcome

    monkeypatch.setattr("synthwatch.progress.run_crawl", fake)
    console = Console(file=io.StringIO(), force_terminal=False)

    got = crawl_with_progress(
        store,
        console,
        "shop",
        label="crawling shop",
        sources=[tmp_path / "s.toml"],
        env={"A": "1"},
        timeout=5.0,
        allow_loopback=True,
    )

    assert got is outcome
    ((source_id, kwargs, in_main),) = calls
    assert source_id == "shop" and in_main, "Ctrl-C must reach the thread that owns the child"
    assert kwargs == {
        "sources": [tmp_path / "s.toml"],
        "env": {"A": "1"},
        "timeout": 5.0,
        "allow_loopback": True,
    }
