"""A crawl with its evidence in S3 (moto on 127.0.0.1): uploaded before commits, spool emptied."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from crawlers.store_batch import Failed
from storage.models import Capture, CrawlRun
from storage.warc import verify_captures
from synthwatch.cli import main
from tests.crawlers.harness import Harness, MockServer
from tests.crawlers.test_crawl import build_shop
from tests.crawlers.test_store_batch import evidenced, page
from tests.factories import source_toml
from tests.s3_server import S3Server, s3, s3_endpoint

__all__ = ["s3", "s3_endpoint"]

pytestmark = pytest.mark.slow


def test_a_crawl_keeps_its_evidence_in_s3_and_every_reader_finds_it(
    harness: Harness,
    server: MockServer,
    s3: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build_shop(server)
    sources = harness.write_sources(
        source_toml("shop", server.base_url, sitemaps='["{base}/sitemap.xml"]', pattern="/item/")
    )
    harness.register_file(sources)
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)

    outcome = harness.crawl("shop", sources)

    assert outcome.ok, outcome.log_path.read_text()
    store = s3.store(harness.home)
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None and run.warc_file and run.warc_sha256
        captures = list(session.scalars(select(Capture).where(Capture.crawl_run_id == run.id)))
        assert len(captures) == 4
        findings = list(verify_captures(store, captures))
        warc_file, seal = run.warc_file, (run.warc_bytes, run.warc_sha256)
    assert not (harness.home / warc_file).exists()  # the worker's disk keeps nothing
    assert s3.keys(store.client) == [f"watch/{warc_file}"]  # the parts were replaced
    assert store.seal(warc_file) == seal
    assert [f.message for f in findings if not f.verified] == []
    assert len(findings) == len(captures) + 1  # and the file's seal was checked

    monkeypatch.setenv("SYNTHWATCH_HOME", str(harness.home))
    monkeypatch.setenv("SYNTHWATCH_DATABASE_URL", harness.database_url)
    assert main(["evidence", "verify", "--all"]) == 0
    assert "4 captures in 1 files checked, 0 mismatched" in capsys.readouterr().err


def test_a_batch_s_evidence_is_in_s3_before_its_commit(harness: Harness, s3: S3Server) -> None:
    _, pipeline, items = evidenced(harness, page(), page(url="https://shop.example/3"))
    store = s3.store(harness.home)
    pipeline.run.evidence = store
    keys_at_commit: list[list[str]] = []
    assert pipeline.run.engine is not None
    event.listen(
        pipeline.run.engine, "commit", lambda _conn: keys_at_commit.append(s3.keys(store.client))
    )

    outcomes = pipeline.write_batch(list(items))

    assert all(not isinstance(o, Failed) for o in outcomes)
    assert keys_at_commit == [[f"watch/{pipeline.run.warc_file}.parts/{0:015d}"]]


def test_a_batch_whose_upload_fails_stores_nothing_that_points_at_it(
    harness: Harness, s3: S3Server
) -> None:
    _, pipeline, items = evidenced(harness, page())
    broken = s3.store(harness.home)
    broken.bucket = "no-such-bucket"
    pipeline.run.evidence = broken

    (outcome,) = pipeline.write_batch(list(items))

    assert isinstance(outcome, Failed) and "evidence not synced" in outcome.error
    with harness.session_factory() as session:
        assert session.scalars(select(Capture)).all() == []
