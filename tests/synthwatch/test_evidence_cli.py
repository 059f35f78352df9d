"""`synthwatch evidence verify` and `crawl-runs` after a real crawl of the demo forum."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from crawlers.runner import run_crawl
from crawlers.sources import load_sources
from demo.server import DemoServer
from storage.config import StorageSettings
from storage.models import Capture
from synthwatch.cli import main
from synthwatch.demo import approve_demo_sources, ensure_demo_users, render_sources
from synthwatch.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("home")
    env = {"SYNTHWATCH_HOME": str(home), "SYNTHWATCH_CONTACT_URL": "http://127.0.0.1/contact"}
    store = Store.open(StorageSettings.from_env(env), migrate=True)
    with DemoServer() as site:
        sources = render_sources(site.base_url, home / "sources.toml")
        with store.sessions() as session:
            ensure_demo_users(session, datetime.now(UTC))
            approve_demo_sources(session, load_sources(sources), datetime.now(UTC))
        outcome = run_crawl(
            "demo-forum", sources=[sources], env=env, timeout=120, allow_loopback=True
        )
    assert outcome.ok, outcome.log_path.read_text()
    yield store
    store.engine.dispose()


@pytest.fixture
def home(crawled: Store, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(crawled.settings.home))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    return crawled.settings.home


def first_capture(store: Store) -> Capture:
    with store.sessions() as session:
        capture = session.scalars(select(Capture).order_by(Capture.id)).first()
        assert capture is not None
        return capture


def test_untouched_evidence_verifies(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "verify", "--all"]) == 0
    assert " 0 mismatched" in capsys.readouterr().err


def test_a_flipped_byte_in_a_warc_file_is_found(
    crawled: Store, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = first_capture(crawled)
    path = home / capture.warc_file
    original = path.read_bytes()
    flipped = bytearray(original)
    flipped[capture.warc_offset + capture.warc_length // 2] ^= 0x01
    path.write_bytes(bytes(flipped))
    try:
        assert main(["evidence", "verify"]) == 1
        out = capsys.readouterr().out
        assert f"capture {capture.id}" in out and capture.warc_file in out
    finally:
        path.write_bytes(original)


def test_a_changed_hash_in_the_database_is_found(
    crawled: Store, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = first_capture(crawled)
    with crawled.sessions() as session:
        session.execute(
            update(Capture).where(Capture.id == capture.id).values(payload_sha256="0" * 64)
        )
    try:
        assert main(["evidence", "verify", "--all"]) == 1
        assert f"capture {capture.id}" in capsys.readouterr().out
    finally:
        with crawled.sessions() as session:
            session.execute(
                update(Capture)
                .where(Capture.id == capture.id)
                .values(payload_sha256=capture.payload_sha256)
            )


def test_crawl_runs_lists_the_run_with_its_stats(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["crawl-runs", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["source"] == "demo-forum" and run["status"] == "finished"
    assert run["refused"]["onion"] == 1 and run["pages"] >= run["listings"]["new"] > 0
    assert main(["crawl-runs"]) == 0
    assert "demo-forum" in capsys.readouterr().out
