"""Precision, recall and F1 of near-duplicate clustering on generated reposts (issue 15).

The generator invents sites, each with its own boilerplate (a header, a shop blurb on payment
and shipping, a footer), and offers: a vendor's offer of one substance written once, then
reposted on other sites (and sometimes twice on one) reworded slightly (synonyms swapped), its
sentences re-ordered, its prices changed, inside each site's boilerplate. Hard negatives:
shops that sell several substances with one phrasing (distinct offers sharing a template,
same handle), and vendors copying another's phrasing for the same substance under their own
handle. Everything is invented; the same seed gives the same pages.

Each page is stored through ``storage.listing_store.store_listings`` into a fresh SQLite
database (with the fields extraction would find: the substance, its CAS number, the vendor's
identifier key; ``--nlp`` runs the real analyser instead) and ``storage.clusters`` clusters
them. Scored on pairs: a predicted pair is two pages in one cluster, a true pair two pages of
one offer. The baseline, in the same process, is datasketch's MinHashLSH on the raw text with
the same shingles, no boilerplate stripping and no verification by fields.

Run: .venv/bin/python -m bench.clusters [--offers 60] [--seed 7] [--nlp] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

from datasketch import MinHash, MinHashLSH
from sqlalchemy import make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

from storage import clusters
from storage.config import sqlite_url
from storage.crawls import CaptureRow, record_captures, start_crawl_run
from storage.db import make_engine, make_session_factory, transaction
from storage.listing_store import (
    AnalysisRecord,
    IndicatorRecord,
    ListingPage,
    MentionRecord,
    store_listings,
)
from storage.migrate import upgrade
from storage.models import ClusterMember
from storage.sources import upsert_source

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# (concept id, name as written, class, CAS number): real substance names, invented offers.
SUBSTANCES = (
    ("isotonitazene", "Isotonitazene", "nitazene", "14188-81-9"),
    ("protonitazene", "Protonitazene", "nitazene", "95958-84-5"),
    ("metonitazene", "Metonitazene", "nitazene", "14680-51-4"),
    ("bromazolam", "Bromazolam", "designer benzodiazepine", "71368-80-4"),
    ("flubromazolam", "Flubromazolam", "designer benzodiazepine", "612526-40-6"),
    ("etizolam", "Etizolam", "designer benzodiazepine", "40054-69-1"),
    ("mephedrone", "4-MMC", "cathinone", "1189805-46-6"),
    ("3-mmc", "3-MMC", "cathinone", "1246816-62-1"),
    ("4-anpp", "4-ANPP", "precursor", "1609-66-1"),
    ("mdmb-4en-pinaca", "MDMB-4en-PINACA", "synthetic cannabinoid", "2504100-70-1"),
    ("carfentanil", "Carfentanil", "opioid", "59708-52-0"),
    ("acetylfentanyl", "Acetylfentanyl", "opioid", "3258-84-2"),
)

# Each slot of an offer: its phrasings. An offer picks one phrasing per slot; a repost swaps
# a word or two for a synonym and shuffles the order.
SLOTS = (
    (
        "{name} {form} available now, {grade} quality straight from our own lab.",
        "Fresh batch of {name} {form} just arrived, {grade} quality and fully tested.",
        "We produce {name} {form} in house and keep large stock at all times.",
        "Top {grade} {name} {form} for research use, crystal clear and dry.",
    ),
    (
        "Purity {purity}% confirmed by independent HPLC and NMR analysis, COA on request.",
        "Every lot is tested: {purity}% purity, certificate of analysis sent with the order.",
        "Lab reports show {purity}% purity; we send the full report before you pay.",
    ),
    (
        "Price {price} USD per gram, {bulk} g for {bulk_price} USD, better rates for big orders.",
        "Costs {price} USD a gram or {bulk_price} USD for {bulk} g, wholesale prices on request.",
        "From {price} USD per gram; {bulk} g costs {bulk_price} USD and larger volumes get a deal.",
    ),
    (
        "Shipping to {regions} in vacuum sealed stealth packaging with tracking.",
        "We ship to {regions}, double vacuum sealed, tracking number within a day.",
        "Discreet delivery to {regions}, reshipping is free when a parcel gets lost.",
    ),
    (
        "Write to {contact} for orders and questions, we answer fast.",
        "Orders only through {contact}, replies within the hour.",
        "Contact {contact} to order, no time wasters please.",
    ),
)
SYNONYMS = {
    "available": "in stock",
    "quality": "grade",
    "large": "big",
    "fresh": "new",
    "confirmed": "verified",
    "independent": "third party",
    "orders": "purchases",
    "fast": "quickly",
    "discreet": "safe",
    "shipping": "delivery",
    "tested": "checked",
    "better": "lower",
    "questions": "enquiries",
    "within": "in",
}
FORMS = ("powder", "crystals", "pellets", "HCl powder")
GRADES = ("premium", "high", "pharma", "excellent")
REGIONS = ("the EU and UK", "the USA and Canada", "Australia", "worldwide", "all of Europe")
CHANNELS = (("wickr", "Wickr: {}"), ("telegram", "Telegram @{}"), ("session", "Session ID {}"))
SITE_WORDS = ("Lantern", "Harbour", "Copper", "Juniper", "Meadow", "Granite", "Willow", "Orbit")
SITE_KINDS = ("Classifieds", "Market", "Board", "Bazaar", "Exchange", "Forum")
BLURBS = (
    "We accept BTC, XMR and USDT. No refunds after dispatch.",
    "All orders are packed within 24 hours and leave our warehouse the same day.",
    "Read our FAQ before you order and check your address twice.",
    "Escrow available for orders above 500 USD. Feedback after delivery please.",
    "New customers get 10% off the first order with the code WELCOME10.",
    "Reship or refund policy: see the terms page. Customs seizures are reshipped once.",
)


@dataclass(frozen=True, slots=True)
class Page:
    """A generated listing page and what extraction would find in it."""

    source_id: str
    url: str
    title: str
    text: str
    offer: int  # the offer it shows: pages of one offer are near-duplicates
    concept: str
    name: str
    cas: str
    key: str


@dataclass(slots=True)
class Site:
    source_id: str
    name: str
    header: list[str]
    footer: list[str]
    pages: int = 0


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: int
    substance: tuple[str, str, str, str]
    sentences: tuple[str, ...]  # one phrasing per slot, placeholders left in
    values: dict[str, str] = field(default_factory=dict)
    key: str = ""


def _site(rng: random.Random, n: int) -> Site:
    name = f"{rng.choice(SITE_WORDS)} {rng.choice(SITE_WORDS)} {rng.choice(SITE_KINDS)}"
    sections = rng.sample(("Home", "Shop", "FAQ", "Contact", "Feedback", "Escrow", "Vendors"), 4)
    header = [f"{name}", " | ".join(sections), *rng.sample(BLURBS, 2)]
    footer = [
        f"Copyright 2026 {name}. Invented demo content, not a real site.",
        f"Report abuse to abuse@site{n}.example.",
    ]
    return Site(f"gen-site-{n}", name, header, footer)


def _values(rng: random.Random, offer: Offer | None = None) -> dict[str, str]:
    price = rng.choice((8, 12, 25, 40, 90, 120, 250))
    bulk = rng.choice((10, 25, 50, 100))
    values = {
        "form": rng.choice(FORMS),
        "grade": rng.choice(GRADES),
        "purity": rng.choice(("98.5", "99", "99.2", "99.8")),
        "price": str(price),
        "bulk": str(bulk),
        "bulk_price": str(int(price * bulk * rng.uniform(0.6, 0.85))),
        "regions": rng.choice(REGIONS),
    }
    if offer is not None:  # a repost keeps its offer's words, perhaps at other prices
        values = {**values, **{k: v for k, v in offer.values.items() if k not in {"price"}}}
    return values


def _reword(rng: random.Random, sentence: str, swaps: int) -> str:
    words = sentence.split(" ")
    spots = [i for i, w in enumerate(words) if w.lower().strip(",.") in SYNONYMS]
    for i in rng.sample(spots, min(swaps, len(spots))):
        bare = words[i].strip(",.")
        swapped = SYNONYMS[bare.lower()]
        words[i] = words[i].replace(bare, swapped.capitalize() if bare[0].isupper() else swapped)
    return " ".join(words)


def _render(
    rng: random.Random, site: Site, offer: Offer, *, repost: bool, channel: tuple[str, str]
) -> tuple[str, str]:
    _concept, name, _cls, cas = offer.substance
    handle = offer.key.split(":", 1)[1]
    values = {**_values(rng, offer), "name": name, "contact": channel[1].format(handle)}
    sentences = [s.format(**values) for s in offer.sentences]
    if repost:
        sentences = [_reword(rng, s, rng.choice((0, 1, 1, 2))) for s in sentences]
        rng.shuffle(sentences)
    body = [" ".join(sentences[:3]), " ".join(sentences[3:]), f"CAS {cas}."]
    title = f"{name} {values['form']} {values['purity']}%"
    lines = [*site.header, title, *body, *site.footer]
    return title, "\n".join(lines)


def generate(seed: int = 7, offers: int = 60, sites: int = 6) -> list[Page]:
    """Return generated listing pages: reposted offers, template shops, copycats."""
    rng = random.Random(seed)
    all_sites = [_site(rng, n) for n in range(sites)]
    pages: list[Page] = []
    next_offer = 0

    def emit(site: Site, offer: Offer, repost: bool, channel: tuple[str, str]) -> None:
        title, text = _render(rng, site, offer, repost=repost, channel=channel)
        site.pages += 1
        url = f"https://{site.source_id}.example/listing/{site.pages}"
        concept, name, _cls, cas = offer.substance
        pages.append(
            Page(site.source_id, url, title, text, offer.offer_id, concept, name, cas, offer.key)
        )

    for _ in range(offers):
        channel = rng.choice(CHANNELS)
        handle = f"{rng.choice(SITE_WORDS).lower()}_{rng.randrange(100, 999)}"
        offer = Offer(
            next_offer,
            rng.choice(SUBSTANCES),
            tuple(rng.choice(slot) for slot in SLOTS),
            _values(rng),
            f"{channel[0]}:{handle}",
        )
        next_offer += 1
        copies = rng.choice((1, 2, 2, 3, 4))
        for n, site in enumerate(rng.sample(all_sites, min(copies, sites))):
            emit(site, offer, repost=n > 0, channel=channel)
        if copies > 1 and rng.random() < 0.15:  # posted twice on one site
            emit(rng.choice(all_sites), offer, repost=True, channel=channel)
        if rng.random() < 0.3:
            # A shop with one phrasing for several products: same handle, other substances.
            for substance in rng.sample([s for s in SUBSTANCES if s != offer.substance], 2):
                sibling = Offer(next_offer, substance, offer.sentences, _values(rng), offer.key)
                next_offer += 1
                emit(rng.choice(all_sites), sibling, repost=False, channel=channel)
        if rng.random() < 0.15:
            # A copycat: the same substance and words under another vendor's handle.
            copycat = Offer(
                next_offer,
                offer.substance,
                offer.sentences,
                offer.values,
                f"{channel[0]}:copy_{handle}",
            )
            next_offer += 1
            emit(rng.choice(all_sites), copycat, repost=True, channel=channel)
    return pages


def planted_analysis(page: Page) -> AnalysisRecord:
    """Return what extraction finds in a generated page: its substance, CAS and handle."""
    start = page.text.index(page.name)
    cas_at = page.text.index(page.cas)
    handle = page.key.split(":", 1)[1]
    handle_at = page.text.index(handle)
    _concept, _name, cls, _cas = next(s for s in SUBSTANCES if s[0] == page.concept)
    return AnalysisRecord(
        score=0.9,
        offer=True,
        mentions=[
            MentionRecord(
                page.concept, page.name, cls, "", start, start + len(page.name), page.name, 1.0
            ),
            MentionRecord(
                page.concept,
                page.name,
                cls,
                "",
                cas_at,
                cas_at + len(page.cas),
                page.cas,
                1.0,
                "cas",
            ),
        ],
        indicators=[
            IndicatorRecord("cas", cas_at, cas_at + len(page.cas), page.cas, page.cas),
            IndicatorRecord(
                "contact",
                handle_at,
                handle_at + len(handle),
                handle,
                page.key.split(":")[0],
                page.key,
            ),
        ],
    )


def store_pages(
    factory: sessionmaker[Session], pages: Sequence[Page], analyses: Sequence[AnalysisRecord]
) -> None:
    """Store generated pages as crawls would: a run and captures per site, then the listings."""
    with transaction(factory) as session:
        by_source: dict[str, list[int]] = {}
        for n, page in enumerate(pages):
            by_source.setdefault(page.source_id, []).append(n)
        for number, (source_id, indexes) in enumerate(by_source.items()):
            when = START + timedelta(hours=number)
            upsert_source(
                session,
                source_id=source_id,
                name=source_id,
                config={"seeds": [f"https://{source_id}.example/"]},
                scope_fingerprint="0" * 64,
                now=when,
            )
            run = start_crawl_run(session, source_id=source_id, now=when)
            rows = [
                CaptureRow(
                    run.id, pages[n].url, 200, "text/html", when, "x.warc.gz", 0, 1, "0" * 64
                )
                for n in indexes
            ]
            capture_ids = record_captures(session, rows)
            store_listings(
                session,
                [
                    ListingPage(
                        source_id=source_id,
                        url=pages[n].url,
                        capture_id=capture_id,
                        title=pages[n].title,
                        text=pages[n].text,
                        fields={},
                        analysis=analyses[n],
                        now=when,
                    )
                    for n, capture_id in zip(indexes, capture_ids, strict=True)
                ],
            )


def cluster_stored(factory: sessionmaker[Session], now: datetime) -> dict[str, int]:
    """Run ``storage.clusters`` over everything stored; return each listing URL's cluster."""
    while True:
        with transaction(factory) as session:
            report = clusters.cluster_pending(session, now=now)
        if report.signed < clusters.BATCH:
            break
    with factory() as session:
        from storage.models import Listing

        query = select(Listing.url, ClusterMember.cluster_id).join(
            ClusterMember, ClusterMember.listing_id == Listing.id
        )
        return {url: cluster_id for url, cluster_id in session.execute(query)}


def baseline_clusters(pages: Sequence[Page]) -> dict[str, int]:
    """Cluster with MinHashLSH on the raw text alone: no boilerplate stripping, no fields."""
    index = MinHashLSH(threshold=clusters.LSH_THRESHOLD, num_perm=clusters.NUM_PERM)
    signatures = {}
    for page in pages:
        found = clusters.shingles(page.text)
        signature = MinHash(num_perm=clusters.NUM_PERM, seed=clusters.SEED, scheme=clusters.SCHEME)
        signature.update_batch(sorted(found))
        signatures[page.url] = signature
        index.insert(page.url, signature)
    parent = {page.url: page.url for page in pages}

    def root(url: str) -> str:
        while parent[url] != url:
            parent[url] = parent[parent[url]]
            url = parent[url]
        return url

    for url, signature in signatures.items():
        for other in index.query(signature):
            if other != url and signature.jaccard(signatures[other]) >= clusters.MATCH_JACCARD:
                parent[root(other)] = root(url)
    roots: dict[str, int] = {}
    return {url: roots.setdefault(root(url), len(roots)) for url in parent}


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int


def pair_score(pages: Sequence[Page], assigned: dict[str, int]) -> Score:
    """Score clusters on pairs of pages against the offers the pages show."""
    truth = set(_pairs((p.url, p.offer) for p in pages))
    predicted = set(_pairs((p.url, assigned[p.url]) for p in pages if p.url in assigned))
    hits = len(truth & predicted)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1, len(truth), len(predicted))


def _pairs(labelled: Iterable[tuple[str, int]]) -> Iterator[tuple[str, str]]:
    groups: dict[int, list[str]] = {}
    for url, label in labelled:
        groups.setdefault(label, []).append(url)
    for urls in groups.values():
        yield from combinations(sorted(urls), 2)


def analyses_of(pages: Sequence[Page], use_nlp: bool) -> list[AnalysisRecord]:
    """Return the fields of each page: planted by the generator, or read by the analyser."""
    if not use_nlp:
        return [planted_analysis(page) for page in pages]
    from crawlers.pipelines import analysis_record
    from nlp import Analyser

    analyser = Analyser()
    return [analysis_record(analyser.analyse(page.text)) for page in pages]


def measure(
    pages: Sequence[Page], factory: sessionmaker[Session], *, use_nlp: bool = False
) -> tuple[Score, float]:
    """Store and cluster the pages; return the score and the seconds clustering took."""
    store_pages(factory, pages, analyses_of(pages, use_nlp))
    started = time.perf_counter()
    assigned = cluster_stored(factory, START + timedelta(days=1))
    return pair_score(pages, assigned), time.perf_counter() - started


@contextmanager
def database(postgres: bool, folder: Path) -> Iterator[str]:
    """Yield the URL of a new database: SQLite in ``folder``, or one of its own on the
    PostgreSQL server of SYNTHWATCH_TEST_POSTGRES_URL, dropped afterwards."""
    if not postgres:
        yield sqlite_url(folder / "clusters.db")
        return
    server = make_url(os.environ["SYNTHWATCH_TEST_POSTGRES_URL"]).set(
        drivername="postgresql+psycopg"
    )
    name = f"synthwatch_bench_clusters_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=60)
    parser.add_argument("--sites", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--nlp", action="store_true", help="fields read by nlp, not planted")
    parser.add_argument("--postgres", action="store_true", help="SYNTHWATCH_TEST_POSTGRES_URL")
    args = parser.parse_args(argv)
    if args.postgres and not os.environ.get("SYNTHWATCH_TEST_POSTGRES_URL"):
        parser.error(
            "--postgres needs SYNTHWATCH_TEST_POSTGRES_URL (a server to make a database on)"
        )
    pages = generate(args.seed, args.offers, args.sites)
    offers = len({p.offer for p in pages})
    print(f"{len(pages)} pages of {offers} offers on {args.sites} sites (seed {args.seed})")
    base = pair_score(pages, baseline_clusters(pages))
    with tempfile.TemporaryDirectory() as folder, database(args.postgres, Path(folder)) as url:
        engine = make_engine(url)
        upgrade(engine)
        score, seconds = measure(pages, make_session_factory(engine), use_nlp=args.nlp)
        engine.dispose()
    print("| clustering | precision | recall | F1 | pairs predicted (true) |")
    print("|---|---|---|---|---|")
    for label, s in (("MinHash LSH on raw text (baseline)", base), ("storage.clusters", score)):
        print(
            f"| {label} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} "
            f"| {s.predicted_pairs} ({s.true_pairs}) |"
        )
    ratio = score.f1 / max(base.f1, 1e-9)
    print(f"storage.clusters: {seconds:.2f} s for {len(pages)} pages; F1 {ratio:.1f}x the baseline")


if __name__ == "__main__":
    main()
