"""Near-duplicate clusters (storage.clusters): reposts across sites cluster, a shop's template
does not, fields verify candidates, the index persists, a split sticks; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from review.users import create_user
from storage.clusters import (
    MATCH_JACCARD,
    ClusterError,
    Fields,
    boilerplate,
    cluster_of_listing,
    cluster_pending,
    fields_agree,
    fields_of,
    minhash,
    shingles,
    similarity,
    split_member,
)
from storage.db import make_session_factory
from storage.listings import AnalysisRecord, IndicatorRecord, MentionRecord
from storage.models import AuditEvent, ClusterBand, ClusterMember, ClusterSignature
from storage.sources import upsert_source
from tests.factories import add_listing

OFFER = (
    "Isotonitazene powder available now, premium quality straight from our own lab. "
    "Purity 99.5% confirmed by independent HPLC analysis, report on request.\n"
    "Price 120 USD per gram, 10 g for 900 USD. Shipping worldwide in vacuum sealed packaging. "
    "Orders through Wickr: nightowl_lab only."
)
# The same offer reposted: two words swapped, sentences re-ordered, another price.
REPOST = (
    "Price 110 USD per gram, 10 g for 900 USD. Orders through Wickr: nightowl_lab only.\n"
    "Isotonitazene powder in stock now, premium grade straight from our own lab. "
    "Shipping worldwide in vacuum sealed packaging. "
    "Purity 99.5% confirmed by independent HPLC analysis, report on request."
)
HEADERS = {
    "alpha": [
        "Alpha Chem Bazaar",
        "Home | Shop | FAQ | Contact",
        "We accept BTC and XMR. Escrow for orders above 500 USD.",
    ],
    "beta": [
        "Beta Board Classifieds",
        "Post an ad | Browse | Sign in",
        "Safety first: report suspicious ads to safety@beta.example.",
    ],
}
# Listings of other things, so that each site's boilerplate shows in most of its listings.
FILLERS = (
    "Mountain bike with new tyres, eighteen inch frame, serviced in spring, collect in person.",
    "Piano lessons for beginners on Saturday mornings, first lesson free, all ages welcome.",
    "Four garden chairs and a folding table, weathered teak, buyer picks them up from the shed.",
    "Desk lamp barely used, warm white bulb included, small scratch on the base, cash only.",
    "Room to let in a quiet shared house near the station, bills included, no pets please.",
    "Babysitter available on weekday evenings, first aid certificate, references on request.",
    "Old vinyl records, mostly jazz and soul from the seventies, sold as one lot or singly.",
    "Lawn mower needs a new blade, otherwise runs well, petrol, starts first time in summer.",
)
SUBSTANCES = {
    "Isotonitazene": ("isotonitazene", "nitazene"),
    "Protonitazene": ("protonitazene", "nitazene"),
    "Bromazolam": ("bromazolam", "designer benzodiazepine"),
}


def page(source_id: str, body: str) -> str:
    return "\n".join([*HEADERS[source_id], body, f"Copyright 2026 {source_id}. Invented."])


def analysis(text: str) -> AnalysisRecord:
    """Return what extraction would find: each substance named, the Wickr handle."""
    mentions = [
        MentionRecord(concept, name, cls, "", at, at + len(name), name, 1.0)
        for name, (concept, cls) in SUBSTANCES.items()
        if (at := text.find(name)) >= 0
    ]
    indicators = []
    if (at := text.find("Wickr: ")) >= 0:
        handle = text[at + 7 :].split()[0]
        indicators.append(
            IndicatorRecord("contact", at, at + 7 + len(handle), handle, "wickr", f"wickr:{handle}")
        )
    return AnalysisRecord(score=0.9, offer=bool(mentions), mentions=mentions, indicators=indicators)


def store(session: Session, source_id: str, slug: str, body: str, now: datetime) -> int:
    text = page(source_id, body)
    url = f"https://{source_id}.example/{slug}"
    stored = add_listing(
        session, url, now, source_id=source_id, text=text, title=slug, analysis=analysis(text)
    )
    return stored.listing.id


def sites(session: Session, now: datetime) -> None:
    """Register both sites and give each the filler listings its boilerplate shows in."""
    for source_id in HEADERS:
        upsert_source(
            session,
            source_id=source_id,
            name=source_id.title(),
            config={"seeds": [f"https://{source_id}.example/"]},
            scope_fingerprint="f" * 64,
            now=now,
        )
        mine = FILLERS[:4] if source_id == "alpha" else FILLERS[4:]
        for n, filler in enumerate(mine):
            store(session, source_id, f"filler-{n}", filler, now)


def test_a_reposted_offer_clusters_across_sites(any_engine: Engine, now: datetime) -> None:
    with make_session_factory(any_engine)() as session:
        sites(session, now)
        first = store(session, "alpha", "offer", OFFER, now)
        second = store(session, "beta", "repost", REPOST, now)
        report = cluster_pending(session, now=now)
        assert report.signed == 10 and report.clusters_created == 1
        cluster = cluster_of_listing(session, first)
        assert cluster is not None and cluster_of_listing(session, second) == cluster
        members = session.scalar(select(func.count(ClusterMember.id)))
        assert members == 2  # the fillers, alike in their site's boilerplate only, stay out
        session.commit()


def test_boilerplate_is_what_most_of_a_sites_listings_carry() -> None:
    texts = [page("alpha", filler) for filler in FILLERS[:4]] + [page("alpha", OFFER)]
    dropped = boilerplate(texts)
    assert "alpha chem bazaar" in dropped and "home shop faq contact" in dropped
    assert not any("isotonitazene" in line for line in dropped)
    # Two sites' copies are alike once each site's boilerplate is gone, unlike before.
    alpha, beta = page("alpha", OFFER), page("beta", REPOST)
    raw = similarity(minhash(shingles(alpha)).tobytes(), minhash(shingles(beta)).tobytes())
    stripped_beta = boilerplate([page("beta", filler) for filler in FILLERS[4:]] + [beta])
    clean = similarity(
        minhash(shingles(alpha, dropped)).tobytes(),
        minhash(shingles(beta, stripped_beta)).tobytes(),
    )
    assert clean >= MATCH_JACCARD > raw


def test_two_products_of_one_template_do_not_cluster(any_engine: Engine, now: datetime) -> None:
    sibling = OFFER.replace("Isotonitazene", "Protonitazene")
    with make_session_factory(any_engine)() as session:
        sites(session, now)
        first = store(session, "alpha", "iso", OFFER, now)
        second = store(session, "alpha", "proto", sibling, now)
        cluster_pending(session, now=now)
        # Near-identical text: only the fields (the substance) tell them apart.
        rows = {s.listing_id: s for s in session.scalars(select(ClusterSignature)).all()}
        assert similarity(rows[first].minhash, rows[second].minhash) >= MATCH_JACCARD
        assert cluster_of_listing(session, first) is None
        assert cluster_of_listing(session, second) is None


def test_fields_must_agree() -> None:
    iso = Fields(frozenset({"isotonitazene"}), frozenset({"14188-81-9"}), frozenset({"wickr:a"}))
    assert fields_agree(iso, iso)
    assert not fields_agree(iso, Fields(frozenset({"protonitazene"}), iso.cas, iso.keys))
    assert not fields_agree(iso, Fields(iso.concepts, frozenset({"95958-84-5"}), iso.keys))
    assert not fields_agree(iso, Fields(iso.concepts, iso.cas, frozenset({"wickr:b"})))
    # Missing CAS or identifiers on one side do not count against a match.
    assert fields_agree(iso, Fields(iso.concepts))
    # A site's own contact on a boilerplate line is no field of the offer.
    text = "Support: wickr site_help\nIsotonitazene for sale"
    spans = [("keys", "wickr:site_help", 9), ("concepts", "isotonitazene", 25)]
    found = fields_of(text, spans, frozenset({"support wickr site help"}))
    assert found == Fields(frozenset({"isotonitazene"}))


def test_the_index_persists_and_only_new_versions_are_signed(
    any_engine: Engine, now: datetime
) -> None:
    factory = make_session_factory(any_engine)
    with factory() as session:
        sites(session, now)
        first = store(session, "alpha", "offer", OFFER, now)
        assert cluster_pending(session, now=now).clusters_created == 0
        session.commit()
    with factory() as session:  # a later crawl: its repost meets the stored bands
        assert cluster_pending(session, now=now).signed == 0
        second = store(session, "beta", "repost", REPOST, now + timedelta(days=1))
        report = cluster_pending(session, now=now + timedelta(days=1))
        assert report.signed == 1 and report.joined == 2
        assert cluster_of_listing(session, first) == cluster_of_listing(session, second)
        bands = session.scalar(select(func.count()).select_from(ClusterBand))
        signed = session.scalar(select(func.count()).select_from(ClusterSignature))
        assert signed == 10 and bands and bands % 10 == 0
        session.commit()


def test_a_split_listing_stays_out_after_a_recrawl(any_engine: Engine, now: datetime) -> None:
    with make_session_factory(any_engine)() as session:
        analyst = create_user(
            session, username="ana", password="pw-long-enough", role="analyst", now=now
        )
        sites(session, now)
        first = store(session, "alpha", "offer", OFFER, now)
        second = store(session, "beta", "repost", REPOST, now)
        third = store(session, "beta", "again", REPOST.replace("110 USD", "105 USD"), now)
        cluster_pending(session, now=now)
        cluster = cluster_of_listing(session, first)
        assert cluster is not None and cluster_of_listing(session, third) == cluster
        split_member(session, cluster, third, actor=analyst, now=now, reason="other batch")
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "cluster.split"))
        assert event is not None and event.detail["listing_id"] == third
        assert event.detail["left"] == 2 and event.actor == "ana"
        # Recrawled with a changed text, still like its old cluster: it does not go back.
        later = now + timedelta(days=1)
        store(session, "beta", "again", REPOST.replace("110 USD", "99 USD"), later)
        assert cluster_pending(session, now=later).signed == 1
        assert cluster_of_listing(session, third) is None
        assert cluster_of_listing(session, second) == cluster
        with pytest.raises(ClusterError):
            split_member(session, cluster, third, actor=analyst, now=later)
        session.commit()


def test_a_listing_changed_past_recognition_leaves_its_cluster(
    any_engine: Engine, now: datetime
) -> None:
    with make_session_factory(any_engine)() as session:
        sites(session, now)
        first = store(session, "alpha", "offer", OFFER, now)
        second = store(session, "beta", "repost", REPOST, now)
        cluster_pending(session, now=now)
        assert cluster_of_listing(session, second) is not None
        later = now + timedelta(days=1)
        other = "Bromazolam pellets, 1 mg each, 100 for 80 USD, ships from the Netherlands."
        store(session, "beta", "repost", f"{other} Wickr: nightowl_lab", later)
        report = cluster_pending(session, now=later)
        assert report.left == 1
        assert cluster_of_listing(session, second) is None
        assert cluster_of_listing(session, first) is not None  # a cluster of one is left
