"""The legal gate through `scrapy crawl`: an unapproved source sends no request at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import CrawlRun
from tests.crawlers.harness import Harness, MockServer
from tests.factories import source_toml

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("state", ["unapproved", "suspended", "rescoped"])
def test_a_source_that_is_not_approved_sends_no_request(
    harness: Harness, server: MockServer, state: str
) -> None:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n")
    server.add("/", '<a class="listing" href="/item/1">1</a>')
    sources = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(sources, state=state)

    outcome = harness.crawl("shop", sources)

    log = outcome.log_path.read_text()
    assert server.hits == []
    assert outcome.status == "failed" and not outcome.ok
    assert outcome.error is not None and f"source 'shop' is {state}" in outcome.error
    assert "legal gate" in log and "no request sent" in log
    with harness.session_factory() as session:
        run = session.scalars(select(CrawlRun)).one()
        assert run.id == outcome.run_id
        assert run.status == "failed" and run.error == outcome.error
        assert run.stats["synthwatch/gate/refused"] == 1
        assert run.stats["finish_reason"] == "not_approved"
        assert "downloader/request_count" not in run.stats
