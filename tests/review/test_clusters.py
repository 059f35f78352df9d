"""Clusters of near-duplicates in the review app: one queue row per cluster with its count,
deciding a cluster (one audit row per case), splitting a listing out, roles and CSRF.

The tests that read or change clusters run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.app import create_app
from review.settings import ReviewSettings
from storage.clusters import cluster_of_listing, cluster_pending
from storage.db import make_engine, make_session_factory, transaction
from storage.listings import AnalysisRecord, store_listing
from storage.migrate import upgrade
from storage.models import AuditEvent, Case, ClusterSplit
from storage.sources import upsert_source
from tests.factories import add_capture
from tests.review.review_testkit import (
    NOW,
    SEED_EVIDENCE,
    XSS_IMG,
    Clock,
    Seed,
    assert_inert,
    indicator,
    mention,
    parse,
    post,
    seed_database,
    session_token,
    signed_in,
)

OFFER = (
    "Metonitazene powder, fresh batch from our own lab, purity 99.1% by HPLC.\n"
    "Price 140 USD per gram, 10 g for 1100 USD, tracked stealth shipping to the EU and UK.\n"
    "Order through Wickr: harbour_lab, we reply within the hour."
)
REPOSTS = (
    OFFER,
    OFFER.replace("fresh batch", "new batch").replace("140 USD", "135 USD"),
    "Order through Wickr: harbour_lab, we reply within the hour.\n"
    + OFFER.split("\n", 1)[0].replace("our own lab", "our lab")
    + "\nPrice 140 USD per gram, 10 g for 1100 USD, tracked stealth shipping to the EU and UK.",
)


@dataclass
class Backend:
    """A seeded review app over one database, with a cluster of three reposted offers."""

    app: Flask
    factory: sessionmaker[Session]
    seed: Seed
    cluster_id: int
    cases: list[int]  # the cluster's cases, highest score first
    listings: list[int]

    def client(self, username: str = "ana") -> FlaskClient:
        return signed_in(self.app, username)


def add_reposts(factory: sessionmaker[Session], seed: Seed) -> tuple[int, list[int], list[int]]:
    """Store the offer on the seed's market and twice on a second site; cluster them."""
    with transaction(factory) as session:
        upsert_source(
            session,
            source_id="other-board",
            name="Other board",
            config={"seeds": ["http://127.0.0.1:8422/"]},
            scope_fingerprint="e" * 64,
            now=NOW - timedelta(days=3),
        )
        listings, cases = [], []
        for number, (source_id, text) in enumerate(
            zip((seed.source_id, "other-board", "other-board"), REPOSTS, strict=True)
        ):
            url = f"http://127.0.0.1:8422/repost/{number}"
            capture = add_capture(session, seed.run_ids[0], url, NOW, evidence=SEED_EVIDENCE)
            analysis = AnalysisRecord(
                score=8.0 - number,
                offer=True,
                mentions=[
                    mention(text, "Metonitazene", "metonitazene", "Metonitazene", "nitazene")
                ],
                indicators=[
                    indicator(text, "Wickr: harbour_lab", "contact", "wickr", "wickr:harbour_lab")
                ],
            )
            title = f"Metonitazene powder {XSS_IMG}" if number == 2 else "Metonitazene powder"
            stored = store_listing(
                session,
                source_id=source_id,
                url=url,
                capture=capture,
                title=title,
                text=text,
                fields={},
                analysis=analysis,
                now=NOW - timedelta(minutes=10),
            )
            assert stored.case is not None
            listings.append(stored.listing.id)
            cases.append(stored.case.id)
        cluster_pending(session, now=NOW)
        cluster_id = cluster_of_listing(session, listings[0])
        assert cluster_id is not None
        assert {cluster_of_listing(session, i) for i in listings} == {cluster_id}
    return cluster_id, cases, listings


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, seed: Seed, settings: ReviewSettings, clock: Clock
) -> Iterator[Backend]:
    if request.param == "sqlite":
        factory = request.getfixturevalue("factory")
        found = add_reposts(factory, seed)
        yield Backend(request.getfixturevalue("app"), factory, seed, *found)
        return
    engine = make_engine(request.getfixturevalue("postgres_url"))
    upgrade(engine)
    factory = make_session_factory(engine)
    seed = seed_database(factory)
    found = add_reposts(factory, seed)
    yield Backend(create_app(factory, settings, clock=clock), factory, seed, *found)
    engine.dispose()


def rows(page: lxml.html.HtmlElement) -> list[int]:
    return [int(i) for i in page.xpath("//tr[contains(@class, 'case')]/@data-case-id")]


def events(factory: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(query))


def states(factory: sessionmaker[Session], case_ids: list[int]) -> list[str]:
    with factory() as session:
        return [session.get_one(Case, case_id).state for case_id in case_ids]


def test_the_queue_shows_one_row_per_cluster_with_its_count(backend: Backend) -> None:
    page = parse(backend.client().get("/"))

    shown = rows(page)
    lead, *others = backend.cases
    assert lead in shown and not set(others) & set(shown)
    (row,) = page.xpath(f"//tr[@data-case-id='{lead}']")
    badge = " ".join(row.xpath(".//a[@class='cluster-badge']")[0].text_content().split())
    assert badge == f"3 near-duplicates · cluster {backend.cluster_id}"
    assert row.get("data-transition-url") == f"/clusters/{backend.cluster_id}/transition"
    assert row.get("data-moves") == "confirmed dismissed"
    followers = row.xpath(".//input[@data-follows]/@value")
    assert [int(v) for v in followers] == others
    summary = " ".join(page.xpath("//p[@class='summary']")[0].text_content().split())
    assert summary.startswith(f"{len(shown) + 2} cases in {len(shown)} rows")
    # A case of the cluster that the filter leaves out is not counted on the row.
    page = parse(backend.client().get("/?source=other-board"))
    (row,) = page.xpath("//tr[@data-cluster-id]")
    assert int(row.get("data-case-id")) == others[0]
    badge = " ".join(row.xpath(".//a[@class='cluster-badge']")[0].text_content().split())
    assert badge.startswith("2 of 3 near-duplicates")
    assert_inert(page)


def test_bulk_dismissing_a_cluster_row_writes_an_audit_row_per_case(backend: Backend) -> None:
    analyst = backend.client()
    data = {
        "case_ids": backend.cases,  # the row's box and the hidden boxes that follow it
        "action": "dismiss",
        "reason": "duplicate of another case",
        "confirmed": "1",
        "next": "/",
    }
    response = post(analyst, "/cases/bulk", data)

    assert response.status_code == 302
    assert states(backend.factory, backend.cases) == ["dismissed"] * 3
    dismissed = events(backend.factory, "case.dismissed")
    assert sorted(int(e.object_id) for e in dismissed) == sorted(backend.cases)


def test_deciding_a_cluster_moves_each_of_its_new_cases(backend: Backend) -> None:
    analyst = backend.client()
    first, second, third = backend.cases
    assert post(analyst, f"/cases/{third}/transition", {"to": "confirmed"}).status_code == 302
    path = f"/clusters/{backend.cluster_id}/transition"

    response = post(analyst, path, {"to": "dismissed", "reason": "", "next": "/"})
    assert response.status_code == 302
    assert states(backend.factory, backend.cases) == ["new", "new", "confirmed"]  # a reason

    response = post(analyst, path, {"to": "dismissed", "note": "one vendor's spam", "next": "/"})

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert states(backend.factory, backend.cases) == ["dismissed", "dismissed", "confirmed"]
    dismissed = events(backend.factory, "case.dismissed")
    assert [int(e.object_id) for e in dismissed] == [first, second]
    assert {e.detail["note"] for e in dismissed} == {"one vendor's spam"}
    queue = analyst.get("/?state=all").get_data(as_text=True)
    assert f"Cluster {backend.cluster_id}: 2 cases dismissed" in queue and "Undo" in queue


def test_legal_can_not_decide_a_cluster_and_the_refusal_is_audited(backend: Backend) -> None:
    legal = backend.client("lee")
    path = f"/clusters/{backend.cluster_id}/transition"

    response = post(legal, path, {"to": "confirmed"})

    assert response.status_code == 403
    assert states(backend.factory, backend.cases) == ["new"] * 3
    assert len(events(backend.factory, "auth.denied")) == 1
    # Splitting is the analysts' alone; legal still sees the cluster.
    response = post(legal, f"/clusters/{backend.cluster_id}/split", {"listing_id": "1"})
    assert response.status_code == 403
    assert legal.get(f"/clusters/{backend.cluster_id}").status_code == 200


def test_splitting_a_listing_out_is_audited_and_sticks(backend: Backend) -> None:
    analyst = backend.client()
    lead, *_ = backend.cases
    split_off = backend.listings[2]
    path = f"/clusters/{backend.cluster_id}/split"

    response = post(analyst, path, {"listing_id": str(split_off), "reason": "another batch"})

    assert response.status_code == 302
    (event,) = events(backend.factory, "cluster.split")
    assert event.object_id == str(backend.cluster_id) and event.actor == "ana"
    assert event.detail["listing_id"] == split_off and event.detail["reason"] == "another batch"
    page = parse(analyst.get("/"))
    assert backend.cases[2] in rows(page)  # a row of its own again
    (row,) = page.xpath(f"//tr[@data-case-id='{lead}']")
    assert "2 near-duplicates" in row.xpath(".//a[@class='cluster-badge']")[0].text_content()
    with transaction(backend.factory) as session:
        cluster_pending(session, now=NOW + timedelta(days=1))
        assert cluster_of_listing(session, split_off) is None
        assert session.scalar(select(ClusterSplit.listing_id)) == split_off
    # Splitting it again names what is wrong: it is no member.
    assert post(analyst, path, {"listing_id": str(split_off)}).status_code == 404


def test_a_split_without_its_csrf_token_changes_nothing(backend: Backend) -> None:
    analyst = backend.client()
    session_token(analyst)
    path = f"/clusters/{backend.cluster_id}/split"

    response = analyst.post(path, data={"listing_id": str(backend.listings[1])})

    assert response.status_code == 400
    assert events(backend.factory, "cluster.split") == []
    assert len(events(backend.factory, "auth.csrf_failed")) == 1


def test_the_cluster_page_lists_its_listings_escaped(backend: Backend) -> None:
    page = parse(backend.client().get(f"/clusters/{backend.cluster_id}"))

    listed = [int(i) for i in page.xpath("//tr[@class='cluster-listing']/@data-listing-id")]
    assert listed == backend.listings
    assert page.xpath("//form[contains(@class, 'cluster-dismiss')]//button/text()") == [
        "Dismiss the 3 new cases"
    ]
    assert len(page.xpath("//form[contains(@class, 'split-form')]")) == 3
    assert_inert(page)
    assert XSS_IMG in page.text_content()  # shown as text, not as markup
    assert backend.client().get("/clusters/999999").status_code == 404
