"""A worker uploads the evidence a killed crawl left in its spool to S3 (moto on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from crawlers.crawl_worker import CrawlWorker, WorkerConfig
from crawlers.store_batch import Failed
from storage.crawls import interrupt_stale_runs
from storage.db import transaction
from storage.evidence_store import file_seal
from storage.models import Capture, CrawlRun
from storage.warc import read_capture, verify_captures
from tests.crawlers.harness import Harness
from tests.crawlers.test_store_batch import evidenced, page
from tests.s3_server import S3Server, s3, s3_endpoint

__all__ = ["s3", "s3_endpoint"]

pytestmark = pytest.mark.slow


def test_settle_spool_uploads_what_a_killed_crawl_left_and_readers_find_it(
    harness: Harness, s3: S3Server, tmp_path: Path
) -> None:
    # A crawl stores two pages (each batch's bytes go up as a part before its commit), then is
    # killed: its run stays `running`, its WARC file stays in this machine's spool.
    _, pipeline, items = evidenced(harness, page(), page(url="https://shop.example/3"))
    store = s3.store(harness.home)
    pipeline.run.evidence = store
    assert all(not isinstance(o, Failed) for o in pipeline.write_batch(list(items)))
    warc_file = pipeline.run.warc_file
    assert warc_file is not None
    spooled = harness.home / warc_file
    seal = file_seal(spooled)
    assert s3.keys(store.client) == [f"watch/{warc_file}.parts/{0:015d}"]

    config = WorkerConfig(database_url=harness.database_url, sources=(), evidence=store)
    worker = CrawlWorker(config)
    try:
        # While the run is `running` its crawl may still be writing: the file stays.
        assert store.spooled() == [warc_file]
        assert worker.settle_spool() == []
        assert spooled.exists()

        # The retry's crawl marks the killed run interrupted; the worker's next pass uploads it.
        with transaction(harness.session_factory) as session:
            assert interrupt_stale_runs(session, source_id="shop", now=harness.now)
        assert worker.settle_spool() == [warc_file]
    finally:
        worker.dispose()

    assert not spooled.exists() and store.spooled() == []
    assert s3.keys(store.client) == [f"watch/{warc_file}"]  # one object, the parts deleted
    # A reader on another machine (another home, nothing spooled) finds every capture.
    reader = s3.store(tmp_path / "another-machine")
    assert reader.seal(warc_file) == seal
    with harness.session_factory() as session:
        run = session.scalars(select(CrawlRun)).one()
        assert run.status == "interrupted"
        captures = list(
            session.scalars(
                select(Capture).where(Capture.crawl_run_id == run.id).order_by(Capture.id)
            )
        )
        assert len(captures) == 2
        checks = [read_capture(reader, capture) for capture in captures]
        findings = list(verify_captures(reader, captures))
    assert all(check.verified for check in checks), [check.message for check in checks]
    assert [check.payload for check in checks] == [item.body for item in items]
    assert [f.message for f in findings if not f.verified] == []
