"""`synthwatch evidence verify` and `crawl-runs` after a real crawl of the demo forum."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from storage.config import StorageSettings
from storage.models import Capture, CrawlRun
from synthwatch.cli import main
from synthwatch.store import Store
from tests.synthwatch.crawl_testkit import crawl_demo_forum

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("home")
    env = {"SYNTHWATCH_HOME": str(home), "SYNTHWATCH_CONTACT_URL": "http://127.0.0.1/contact"}
    store = Store.open(StorageSettings.from_env(env), migrate=True)
    crawl_demo_forum(store, env, home)
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


def test_untouched_evidence_verifies(
    crawled: Store, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with crawled.sessions() as session:
        count = len(session.scalars(select(Capture)).all())
        (run,) = session.scalars(select(CrawlRun)).all()
        assert run.warc_file is not None
        assert run.warc_bytes == (home / run.warc_file).stat().st_size  # sealed on close

    assert main(["evidence", "verify", "--all"]) == 0
    assert f"{count} captures in 1 files checked, 0 mismatched" in capsys.readouterr().err


def test_a_rewritten_status_line_is_found(
    crawled: Store, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = first_capture(crawled)
    path = home / capture.warc_file
    original = path.read_bytes()
    start, end = capture.warc_offset, capture.warc_offset + capture.warc_length
    record = gzip.decompress(original[start:end]).replace(b" 200 OK", b" 404 OK", 1)
    path.write_bytes(original[:start] + gzip.compress(record) + original[end:])
    try:
        assert main(["evidence", "verify", "--all"]) == 1
        out = capsys.readouterr().out
        assert f"capture {capture.id}" in out and "MISMATCH file" in out
    finally:
        path.write_bytes(original)


def test_a_cut_tail_is_found(
    crawled: Store, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / first_capture(crawled).warc_file
    original = path.read_bytes()
    path.write_bytes(original[:-40])
    try:
        assert main(["evidence", "verify", "--all"]) == 1
        assert "MISMATCH" in capsys.readouterr().out
    finally:
        path.write_bytes(original)


def test_no_flag_checks_the_latest_run_with_captures(
    crawled: Store, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = first_capture(crawled)
    moment = datetime(2026, 12, 7, tzinfo=UTC)
    with crawled.sessions() as session:
        run = session.get(CrawlRun, capture.crawl_run_id)
        assert run is not None
        source_id = run.source_id
        empty = CrawlRun(source_id=source_id, started_at=moment, status="failed")
        session.add(empty)
        session.commit()
        empty_id = empty.id
    try:
        assert main(["evidence", "verify"]) == 0
        assert "0 captures" not in capsys.readouterr().err
        assert main(["evidence", "verify", "--run", str(empty_id)]) == 1
        assert f"crawl run {empty_id} has no captures" in capsys.readouterr().err
    finally:
        with crawled.sessions() as session:
            session.delete(session.get(CrawlRun, empty_id))
            session.commit()


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
    (run,) = [r for r in json.loads(capsys.readouterr().out) if r["status"] == "finished"]
    assert run["source"] == "demo-forum" and run["status"] == "finished"
    assert run["refused"]["onion"] == 1 and run["pages"] >= run["listings"]["new"] > 0
    assert main(["crawl-runs"]) == 0
    assert "demo-forum" in capsys.readouterr().out
