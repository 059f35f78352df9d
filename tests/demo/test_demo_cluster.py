"""The demo's one offer reposted across two sites: read with each source's field selectors and
analysed as a crawl does, stored and clustered, its listings make one cluster of near-duplicates
(demo/expected.toml [[cluster]]) and no other demo listing clusters with anything."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.html_text import PageReader
from crawlers.pipelines import analysis_record
from demo.responses import default_site_dir
from nlp import Analyser
from storage.clusters import cluster_pending
from storage.db import transaction
from storage.models import ClusterMember, Listing
from storage.sources import upsert_source
from tests.factories import add_listing

DEMO = Path(__file__).resolve().parents[2] / "demo"
EXPECTED = tomllib.loads((DEMO / "expected.toml").read_text(encoding="utf-8"))
SOURCES = {
    s["id"]: s for s in tomllib.loads((DEMO / "sources.toml").read_text(encoding="utf-8"))["source"]
}
BASE = "http://127.0.0.1:8765"


def store_demo(session: Session, now: datetime) -> None:
    """Store every listing page of the demo as its source's crawl would read it."""
    analyser = Analyser()
    readers = {i: PageReader(s.get("fields")) for i, s in SOURCES.items()}
    for source_id in SOURCES:
        upsert_source(
            session,
            source_id=source_id,
            name=source_id,
            config={"seeds": [f"{BASE}/"]},
            scope_fingerprint="d" * 64,
            now=now,
        )
    for entry in EXPECTED["offer"] + EXPECTED["benign"]:
        body = (default_site_dir() / entry["path"].lstrip("/")).read_text(encoding="utf-8")
        page = readers[entry["source"]].read(body.replace("{{BASE_URL}}", BASE).encode())
        add_listing(
            session,
            f"{BASE}{entry['path']}",
            now,
            source_id=entry["source"],
            text=page.text,
            title=page.title,
            analysis=analysis_record(analyser.analyse(page.text, page.signals)),
        )


def test_the_reposted_offer_is_the_demos_one_cluster(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(session_factory) as session:
        store_demo(session, now)
        report = cluster_pending(session, now=now)
        query = select(ClusterMember.cluster_id, Listing.url).join(
            Listing, ClusterMember.listing_id == Listing.id
        )
        clusters: dict[int, set[str]] = {}
        for cluster_id, url in session.execute(query):
            clusters.setdefault(cluster_id, set()).add(url.removeprefix(BASE))

    assert report.signed == len(EXPECTED["offer"]) + len(EXPECTED["benign"])
    assert sorted(clusters.values()) == [set(c["paths"]) for c in EXPECTED["cluster"]]
    sources = {e["path"]: e["source"] for e in EXPECTED["offer"]}
    for cluster in EXPECTED["cluster"]:
        assert len({sources[path] for path in cluster["paths"]}) >= 2  # across sites
