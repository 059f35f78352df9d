"""Queue and search at 100,000 listings: p50 and p95 page times of the review app (issue 15).

Generates ``--listings`` invented listings (default 100,000) over the twelve ISO weeks up to a
fixed "now", stored directly through storage in batches (``storage.crawls.record_captures``
and ``storage.listing_store.store_listings``: multi-row INSERTs, COPY on PostgreSQL; no crawl,
no nlp): each with a version (one in ten changed later: a second), substance mentions, price,
quantity, contact and route indicators, and a case for each offer (a quarter are news and
harm-reduction pages, no case). Texts come from a small generator of substance names, street
words and filler, so a full-text search finds a few thousand. Case states are then set
directly (no audit rows): half new, the rest confirmed, dismissed or escalated.

Then, signed in as an analyst through Flask's test client, each kind of request is timed
``--repeat`` times (after one warm-up, interleaved round by round): the queue's first page, a
filtered queue page, page 50, a queue search, the listings page with a search, the trends page.
Prints p50 and p95 (nearest rank) per kind. SQLite always (a file in a temporary folder);
PostgreSQL too when SYNTHWATCH_TEST_POSTGRES_URL is set, in a database of its own, dropped
afterwards. Timings are wall time on whatever else the machine is doing.

Run: .venv/bin/python -m bench.queue_scale [--listings 100000] [--repeat 20] [--no-postgres]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
from flask.testing import FlaskClient
from sqlalchemy import case, func, make_url, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from review.app import create_app
from review.settings import ReviewSettings
from review.users import create_user
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
from storage.models import Case, Indicator, Listing, ListingVersion, Mention
from storage.sources import upsert_source

# A Wednesday; the listings are spread over the twelve weeks before it.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEKS = 12
SOURCES = 8
BATCH = 2000
USERNAME, PASSWORD = "bench-analyst", "bench password, invented"

# (concept id, name as written, class): real names, invented offers.
SUBSTANCES = (
    ("isotonitazene", "Isotonitazene", "nitazene"),
    ("protonitazene", "Protonitazene", "nitazene"),
    ("metonitazene", "Metonitazene", "nitazene"),
    ("bromazolam", "Bromazolam", "designer_benzodiazepine"),
    ("flubromazolam", "Flubromazolam", "designer_benzodiazepine"),
    ("etizolam", "Etizolam", "designer_benzodiazepine"),
    ("mephedrone", "Mephedrone", "synthetic_cathinone"),
    ("3-mmc", "3-MMC", "synthetic_cathinone"),
    ("4-anpp", "4-ANPP", "precursor"),
    ("mdmb-4en-pinaca", "MDMB-4en-PINACA", "synthetic_cannabinoid"),
    ("carfentanil", "Carfentanil", "fentanyl"),
    ("acetylfentanyl", "Acetylfentanyl", "fentanyl"),
    ("fentanyl", "Fentanyl", "fentanyl"),
)
FORMS = ("powder", "crystals", "pellets", "blotters", "tablets", "liquid", "HCl salt")
FILLER = (
    "fresh", "batch", "stock", "quality", "tested", "lab", "research", "discreet", "fast",
    "reliable", "vendor", "team", "order", "customers", "package", "sealed", "vacuum", "bag",
    "tracking", "number", "payment", "escrow", "bulk", "price", "sample", "gram", "kilo", "purity",
    "analysis", "report", "certificate", "warehouse", "support", "message", "reply", "hours",
    "weekend", "holiday", "discount", "returning", "buyers", "reship", "guarantee", "customs",
    "stealth", "label", "shipping", "delivery", "days", "weeks", "option", "available", "contact",
    "details", "below", "thanks", "welcome",
)  # fmt: skip
NEWS = (
    "Police warn about {name} after seizures in the port city.",
    "Harm reduction services explain how {name} differs from heroin and what naloxone does.",
    "A study of {name} in wastewater found traces in three cities last year.",
)
CHANNELS = ("wickr", "telegram", "session", "threema", "signal")
ORIGINS = ("CN", "HK", "IN", "NL", "PL", "DE", "CA", "US")
DESTINATIONS = ("US", "GB", "AU", "CA", "DE", "FR", "EU", "WORLD", "NZ", "JP")
CARRIERS = ("EMS", "DHL", "FedEx", "UPS", "air mail", "sea")
# Half the cases stay new (the analyst's default queue), the rest are decided.
STATE_BY_REMAINDER = {0: "confirmed", 1: "dismissed", 2: "dismissed", 3: "escalated"}


@dataclass(frozen=True, slots=True)
class Generated:
    """One invented listing: where and when, its text and what extraction would have found."""

    source_id: str
    url: str
    when: datetime
    title: str
    text: str
    analysis: AnalysisRecord
    # When set, the listing changes later: (when, text, analysis) of its second version.
    revised: tuple[datetime, str, AnalysisRecord] | None


def _mention(text: str, concept: tuple[str, str, str]) -> MentionRecord:
    concept_id, name, substance_class = concept
    start = text.index(name)
    return MentionRecord(concept_id, name, substance_class, "", start, start + len(name), name, 0.9)


def _indicator(
    text: str, surface: str, kind: str, value: str, key: str | None = None
) -> IndicatorRecord:
    start = text.index(surface)
    return IndicatorRecord(kind, start, start + len(surface), surface, value, key)


def _offer(rng: random.Random, number: int) -> tuple[str, str, AnalysisRecord]:
    """Return the title, text and analysis of an offer."""
    concepts = rng.sample(SUBSTANCES, rng.choice((1, 1, 1, 2)))
    name, form = concepts[0][1], rng.choice(FORMS)
    grams, price = rng.choice((1, 5, 10, 25, 100)), rng.randrange(40, 2000, 5)
    channel, handle = rng.choice(CHANNELS), f"vendor{rng.randrange(5000)}"
    origin = rng.choice(ORIGINS)
    destination = rng.choice([d for d in DESTINATIONS if d != origin])
    carrier = rng.choice(CARRIERS)
    words = " ".join(rng.choices(FILLER, k=rng.randrange(40, 160)))
    also = f" Also {concepts[1][1]} on request." if len(concepts) > 1 else ""
    quantity, cost = f"{grams} g", f"${price}"
    contact = f"{channel}: {handle}"
    route = f"ships from {origin} to {destination} by {carrier}"
    body = (
        f"{name} {form}, {rng.randrange(95, 100)}% pure. {quantity} for {cost}.{also} "
        f"{words}. Contact {contact}, {route}. Listing {number}."
    )
    indicators = [
        _indicator(body, quantity, "quantity", quantity),
        _indicator(body, cost, "price", f"{price} USD"),
        _indicator(body, contact, "contact", channel, f"{channel}:{handle}"),
    ]
    if rng.random() < 0.7:  # the rest do not say where they ship
        start = body.index(route)
        indicators += [
            IndicatorRecord("route", start, start + len(route), route, f"from:{origin}"),
            IndicatorRecord("route", start, start + len(route), route, f"to:{destination}"),
            IndicatorRecord("route", start, start + len(route), route, f"by:{carrier}"),
        ]
    analysis = AnalysisRecord(
        score=round(rng.uniform(2.0, 9.9), 2),
        offer=True,
        mentions=[_mention(body, c) for c in concepts],
        indicators=indicators,
        reasons=[{"text": f"names {name.lower()}", "weight": 2.5}],
    )
    return f"{name} {form} {grams} g", body, analysis


def _benign(rng: random.Random, number: int) -> tuple[str, str, AnalysisRecord]:
    concept = rng.choice(SUBSTANCES)
    words = " ".join(rng.choices(FILLER, k=rng.randrange(30, 90)))
    body = f"{rng.choice(NEWS).format(name=concept[1])} {words}. Article {number}."
    analysis = AnalysisRecord(score=0.4, offer=False, mentions=[_mention(body, concept)])
    return f"About {concept[1]}", body, analysis


def generate(count: int, seed: int = 7) -> Iterator[Generated]:
    """Yield ``count`` invented listings, oldest first; the same seed gives the same ones."""
    rng = random.Random(seed)
    start = NOW - timedelta(weeks=WEEKS)
    span = (NOW - start).total_seconds()
    for number in range(count):
        when = start + timedelta(seconds=span * number / max(1, count))
        make = _offer if rng.random() < 0.75 else _benign
        title, body, analysis = make(rng, number)
        revised = None
        if rng.random() < 0.1 and when < NOW - timedelta(days=1):
            later = when + timedelta(hours=rng.randrange(1, 24))
            revised = (later, body + " Restocked, new price on request.", analysis)
        source = f"shop-{number % SOURCES}"
        url = f"https://{source}.example/item/{number}"
        yield Generated(source, url, when, title, body, analysis, revised)


# ---------------------------------------------------------------- storing


def populate(factory: sessionmaker[Session], count: int, *, seed: int = 7) -> float:
    """Store ``count`` generated listings and an analyst; return the seconds it took."""
    started = time.perf_counter()
    with transaction(factory) as session:
        for n in range(SOURCES):
            upsert_source(
                session,
                source_id=f"shop-{n}",
                name=f"Invented shop {n}",
                config={"seeds": [f"https://shop-{n}.example/"]},
                scope_fingerprint="0" * 64,
                now=NOW - timedelta(weeks=WEEKS + 1),
            )
        create_user(session, username=USERNAME, password=PASSWORD, role="analyst", now=NOW)
    runs: dict[tuple[str, int], int] = {}
    offset = 0
    later: list[tuple[datetime, str, str, str, str, AnalysisRecord]] = []
    batch: list[tuple[datetime, str, str, str, str, AnalysisRecord]] = []

    def flush(rows: list[tuple[datetime, str, str, str, str, AnalysisRecord]]) -> None:
        nonlocal offset
        with transaction(factory) as session:
            captures = []
            for when, source_id, url, _title, _text, _analysis in rows:
                week = int((when - NOW).total_seconds() // (7 * 86400))
                if (source_id, week) not in runs:
                    run = start_crawl_run(session, source_id=source_id, now=when)
                    runs[(source_id, week)] = run.id
                offset += 1
                captures.append(
                    CaptureRow(
                        runs[(source_id, week)],
                        url,
                        200,
                        "text/html",
                        when,
                        "bench.warc.gz",
                        offset,
                        1,
                        f"{offset:064x}",
                    )
                )
            ids = record_captures(session, captures)
            store_listings(
                session,
                [
                    ListingPage(
                        source_id=source_id,
                        url=url,
                        capture_id=capture_id,
                        title=title,
                        text=body,
                        fields={},
                        analysis=analysis,
                        now=when,
                    )
                    for (when, source_id, url, title, body, analysis), capture_id in zip(
                        rows, ids, strict=True
                    )
                ],
            )

    for listing in generate(count, seed):
        batch.append(
            (listing.when, listing.source_id, listing.url, listing.title, listing.text,
             listing.analysis)
        )  # fmt: skip
        if listing.revised is not None:
            when, body, analysis = listing.revised
            later.append((when, listing.source_id, listing.url, listing.title, body, analysis))
        if len(batch) >= BATCH:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    later.sort(key=lambda row: row[0])
    for n in range(0, len(later), BATCH):
        flush(later[n : n + BATCH])
    with transaction(factory) as session:
        state = case(STATE_BY_REMAINDER, value=Case.id % 8, else_="new")
        session.execute(update(Case).values(state=state))
    return time.perf_counter() - started


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Count what is stored, by table."""
    with factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Listing, ListingVersion, Mention, Indicator, Case)
        }


# ---------------------------------------------------------------- timing

# (kind, path): what an analyst does on a large queue.
REQUESTS = (
    ("queue, first page", "/"),
    ("queue, filtered", "/?state=all&class=nitazene&source=shop-3"),
    ("queue, page 50", "/?state=all&page=50"),
    ("queue, search", "/?state=all&search=isotonitazene+powder"),
    ("listings, search", "/listings?search=metonitazene+crystals"),
    ("trends", "/trends"),
)
_SUMMARY = re.compile(r'class="summary">\s*([\d,]+) (?:case|listing)')


@dataclass(frozen=True, slots=True)
class Timing:
    """One kind of request: its path, how many results its page said, its times in ms."""

    kind: str
    path: str
    results: int | None
    milliseconds: tuple[float, ...]

    @property
    def p50(self) -> float:
        """Return the median time."""
        return statistics.median(self.milliseconds)

    @property
    def p95(self) -> float:
        """Return the 95th percentile time, nearest rank."""
        ordered = sorted(self.milliseconds)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def signed_in(factory: sessionmaker[Session]) -> FlaskClient:
    """Return a test client of the review app, signed in as the bench's analyst."""
    settings = ReviewSettings(secret_key="b" * 48, session_lifetime=timedelta(hours=8))
    client = create_app(factory, settings, clock=lambda: NOW).test_client()
    page = lxml.html.fromstring(client.get("/login").get_data(as_text=True))
    (token,) = page.xpath("//input[@name='csrf_token']/@value")
    form = {"csrf_token": token, "username": USERNAME, "password": PASSWORD}
    response = client.post("/login", data=form)
    if response.status_code != 302:
        raise RuntimeError(f"the bench's analyst could not sign in: {response.status_code}")
    return client


def time_requests(factory: sessionmaker[Session], repeat: int) -> list[Timing]:
    """Time each kind of request ``repeat`` times after a warm-up, round by round."""
    client = signed_in(factory)
    results: dict[str, int | None] = {}
    for kind, path in REQUESTS:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{kind}: GET {path} answered {response.status_code}")
        found = _SUMMARY.search(response.get_data(as_text=True))
        results[kind] = int(found[1].replace(",", "")) if found else None
    times: dict[str, list[float]] = {kind: [] for kind, _path in REQUESTS}
    for _round in range(repeat):
        for kind, path in REQUESTS:
            started = time.perf_counter()
            response = client.get(path)
            times[kind].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{kind}: GET {path} answered {response.status_code}")
    return [Timing(kind, path, results[kind], tuple(times[kind])) for kind, path in REQUESTS]


@contextmanager
def database(engine_name: str, folder: Path) -> Iterator[str]:
    """Yield the URL of a new database: SQLite in ``folder``, or one of its own on the
    PostgreSQL server of SYNTHWATCH_TEST_POSTGRES_URL, dropped afterwards."""
    if engine_name == "sqlite":
        yield sqlite_url(folder / "queue_scale.db")
        return
    server = make_url(os.environ["SYNTHWATCH_TEST_POSTGRES_URL"]).set(
        drivername="postgresql+psycopg"
    )
    name = f"synthwatch_bench_queue_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(engine_name: str, count: int, repeat: int) -> list[Timing]:
    """Populate a new database of one engine and time the requests on it; print as it goes."""
    with tempfile.TemporaryDirectory() as folder, database(engine_name, Path(folder)) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            factory = make_session_factory(engine)
            seconds = populate(factory, count)
            stored = ", ".join(f"{n:,} {table}" for table, n in counts(factory).items())
            print(f"{engine_name}: stored {stored} in {seconds:.0f} s", flush=True)
            if engine_name == "postgresql":
                # As autovacuum would after such a load; committed, or the statistics are lost.
                with engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
            return time_requests(factory, repeat)
        finally:
            engine.dispose()


def table(engine_name: str, timings: Sequence[Timing]) -> str:
    """Return the timings of one engine as a Markdown table."""
    lines = [
        f"| {engine_name} | results | p50 ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for t in timings:
        shown = "—" if t.results is None else f"{t.results:,}"
        lines.append(f"| {t.kind} (`{t.path}`) | {shown} | {t.p50:.0f} | {t.p95:.0f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests of each kind")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    engines = [] if args.no_sqlite else ["sqlite"]
    if os.environ.get("SYNTHWATCH_TEST_POSTGRES_URL") and not args.no_postgres:
        engines.append("postgresql")
    if not engines:
        parser.error("nothing to measure: SQLite left out and SYNTHWATCH_TEST_POSTGRES_URL unset")
    for engine_name in engines:
        timings = run(engine_name, args.listings, args.repeat)
        print(table(engine_name, timings), flush=True)
        slow = [t.kind for t in timings if t.p95 > 1000]
        if slow:
            print(f"{engine_name}: p95 over 1 s: {', '.join(slow)}")


if __name__ == "__main__":
    main()
