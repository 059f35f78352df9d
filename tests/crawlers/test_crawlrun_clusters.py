"""The end of a crawl run clusters the listing versions stored since the last one
(storage.clusters), after the run is closed; a failure there leaves the run as it closed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.crawls import start_crawl_run
from storage.db import transaction
from storage.listings import AnalysisRecord, IndicatorRecord
from storage.models import ClusterMember, ClusterSignature, CrawlRun
from tests.crawlers.harness import Harness
from tests.crawlers.test_crawlrun import SOURCE, open_extension
from tests.factories import add_listing

OFFER = (
    "Bromazolam pellets 1 mg, a hundred for 80 USD, tracked stealth shipping from the EU, "
    "lab tested batch, reship once if customs take it. Wickr: quiet_heron"
)


def store_reposts(harness: Harness) -> None:
    with transaction(harness.session_factory) as session:
        run = start_crawl_run(session, source_id="shop", now=harness.now)
        for n, text in enumerate((OFFER, OFFER.replace("80 USD", "75 USD"))):
            at = text.index("Wickr")
            analysis = AnalysisRecord(
                score=0.9,
                offer=True,
                indicators=[
                    IndicatorRecord(
                        "contact", at, len(text), text[at:], "wickr", "wickr:quiet_heron"
                    )
                ],
            )
            url = f"https://shop.example/{n}"
            add_listing(session, url, harness.now, run_id=run.id, text=text, analysis=analysis)


def test_closing_a_crawl_run_clusters_what_was_stored(harness: Harness) -> None:
    harness.register(SOURCE)
    extension, spider = open_extension(harness)
    extension.spider_opened(spider)
    store_reposts(harness)

    extension.spider_closed(spider, "finished")

    with harness.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ClusterSignature)) == 2
        clusters = session.scalars(select(ClusterMember.cluster_id)).all()
        assert len(clusters) == 2 and len(set(clusters)) == 1


def test_a_clustering_failure_costs_only_the_clustering(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawlers import crawlrun
    from storage.errors import StorageError

    def broken(*_: object, **__: object) -> object:
        raise StorageError("index unreadable")

    monkeypatch.setattr(crawlrun, "cluster_pending", broken)
    harness.register(SOURCE)
    extension, spider = open_extension(harness)
    extension.spider_opened(spider)
    store_reposts(harness)

    extension.spider_closed(spider, "finished")

    with harness.session_factory() as session:
        run = session.get(CrawlRun, extension.run_id)
        assert run is not None and run.status == "finished"
        assert session.scalar(select(func.count()).select_from(ClusterMember)) == 0
