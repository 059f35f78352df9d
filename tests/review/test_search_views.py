"""Full-text search on the queue and the listings page: combined with the other filters, kept
in every link, snippets escaped, a bad query a message (never a 500), every search audited.

The tests that touch the search index run on SQLite and on PostgreSQL (FTS5 and tsvector).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review import context
from review.app import create_app
from review.settings import ReviewSettings
from review.views import listings as listings_view
from review.views import queue as queue_view
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import AuditEvent
from storage.search_snippets import match_pattern, snippet
from storage.text_search import parse_search
from tests.review.review_testkit import (
    Clock,
    Seed,
    assert_inert,
    parse,
    post,
    seed_database,
    signed_in,
)
from tests.review.test_xss_corpus import PAYLOADS, seed_payloads


@dataclass
class Backend:
    """A seeded review app over one database."""

    app: Flask
    factory: sessionmaker[Session]
    seed: Seed

    def client(self, username: str = "ana") -> FlaskClient:
        return signed_in(self.app, username)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, seed: Seed, settings: ReviewSettings, clock: Clock
) -> Iterator[Backend]:
    """The seeded app on SQLite (the shared template) and on a PostgreSQL database of its own.

    ``seed`` is asked for by name: only then is the SQLite copy the seeded one.
    """
    if request.param == "sqlite":
        yield Backend(request.getfixturevalue("app"), request.getfixturevalue("factory"), seed)
        return
    engine = make_engine(request.getfixturevalue("postgres_url"))
    upgrade(engine)
    factory = make_session_factory(engine)
    seed = seed_database(factory)
    yield Backend(create_app(factory, settings, clock=clock), factory, seed)
    engine.dispose()


def searches(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "search").order_by(AuditEvent.id)
        return list(session.scalars(query))


def case_rows(page: lxml.html.HtmlElement) -> list[int]:
    return [int(i) for i in page.xpath("//tr[contains(@class, 'case')]/@data-case-id")]


def listing_rows(page: lxml.html.HtmlElement) -> list[int]:
    return [int(i) for i in page.xpath("//tr[@class='listing']/@data-listing-id")]


def errors(page: lxml.html.HtmlElement) -> list[str]:
    return [" ".join(li.text_content().split()) for li in page.xpath("//li[@class='flash-error']")]


def marks(row: lxml.html.HtmlElement) -> list[str]:
    return [m.text_content() for m in row.xpath(".//mark[@class='search-match']")]


def link_args(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


# ---------------------------------------------------------------- the queue


def test_a_search_narrows_the_queue_together_with_its_state_filter(backend: Backend) -> None:
    seed, analyst = backend.seed, backend.client()
    nitazene = seed.cases["nitazene"]
    assert post(analyst, f"/cases/{nitazene}/transition", {"to": "confirmed"}).status_code == 302
    search = "fentanyl OR protonitazene"

    both = parse(analyst.get("/", query_string={"state": "all", "search": search}))
    new = parse(analyst.get("/", query_string={"state": "new", "search": search}))
    confirmed = parse(analyst.get("/", query_string={"state": "confirmed", "search": search}))

    assert case_rows(both) == [seed.cases["fentanyl"], nitazene]  # by score
    assert case_rows(new) == [seed.cases["fentanyl"]]
    assert case_rows(confirmed) == [nitazene]
    assert "2 cases" in both.xpath("string(//p[@class='summary'])")
    # The box shows the search; the other filters stay as they were chosen.
    assert both.xpath("//input[@id='search']/@value") == [search]
    assert new.xpath("//select[@id='state']/option[@selected]/@value") == ["new"]


def test_each_row_shows_its_matches_in_the_title_and_a_snippet(backend: Backend) -> None:
    seed, analyst = backend.seed, backend.client()

    page = parse(analyst.get("/?state=all&search=stealth+fentanyl"))

    (row,) = page.xpath(f"//tr[@data-case-id='{seed.cases['fentanyl']}']")
    title = row.xpath(".//td[@class='title']/a")[0]
    assert title.text_content() == "Fentanyl powder 99% (50g)"  # the latest version's title
    assert marks(title) == ["Fentanyl"]
    (snip,) = row.xpath(".//p[@class='search-snippet']")
    assert marks(snip) == ["fentanyl", "Stealth"]
    assert snip.text_content().startswith("Buy fentanyl powder")
    assert snip.get("data-where") == "text"


def test_a_match_in_the_fields_only_says_so(backend: Backend) -> None:
    seed, analyst = backend.seed, backend.client()

    # The day it was posted is in no title or text, only in the "posted" field.
    page = parse(analyst.get("/?state=all&search=2026-11-20"))

    (row,) = page.xpath("//tr[@data-case-id]")
    assert int(row.get("data-case-id")) == seed.cases["fentanyl"]
    (snip,) = row.xpath(".//p[@class='search-snippet']")
    assert snip.get("data-where") == "fields"
    assert "In its fields:" in snip.text_content()
    assert marks(snip) == ["2026-11-20"]


def test_pager_sort_export_and_saved_filter_links_keep_the_search(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 1)
    seed, analyst = backend.seed, backend.client()
    search = 'fentanyl OR "4 MMC" OR protonitazene'

    first = parse(analyst.get("/", query_string={"state": "new", "search": search}))

    assert case_rows(first) == [seed.cases["fentanyl"]]
    (next_link,) = first.xpath("//a[@rel='next']/@href")
    assert link_args(next_link)["search"] == [search]
    assert link_args(next_link)["state"] == ["new"]
    for href in first.xpath("//a[@class='sort-link']/@href"):
        assert link_args(href)["search"] == [search], href
    for href in first.xpath("//a[@class='export']/@href"):
        assert link_args(href)["search"] == [search], href
    (saved,) = first.xpath("//form[contains(@class, 'save-filter')]/input[@name='query']/@value")
    assert parse_qs(saved)["search"] == [search]

    second = parse(analyst.get(next_link))
    assert case_rows(second) == [seed.cases["nitazene"]]
    by_source = parse(analyst.get(first.xpath("//a[@class='sort-link']/@href")[1]))
    assert len(case_rows(by_source)) == 1
    assert "3 cases" in by_source.xpath("string(//p[@class='summary'])")


def test_the_export_selects_what_the_search_selects(backend: Backend) -> None:
    seed, analyst = backend.seed, backend.client()

    response = analyst.get("/exports/cases.json?state=all&search=protonitazene")

    assert response.status_code == 200
    exported = response.get_json()
    assert [case["case_id"] for case in exported["cases"]] == [seed.cases["nitazene"]]


def test_a_bad_query_is_a_message_with_the_query_kept(backend: Backend) -> None:
    analyst = backend.client()
    typed = 'fentanyl "pressed pills'

    response = analyst.get("/", query_string={"state": "all", "search": typed})

    assert response.status_code == 400
    page = parse(response)
    (message,) = errors(page)
    assert "is not closed" in message and "It was left out" in message
    assert page.xpath("//input[@id='search']/@value") == [typed]
    # The queue is shown without the search (the state filter kept), and nothing was searched.
    assert len(case_rows(page)) == 5
    assert searches(backend.factory) == []
    for href in page.xpath("//a[@class='sort-link']/@href"):
        assert "search" not in link_args(href)

    for bad in ("NOT patch", "(fentanyl", "a*", "fentanyl OR", "x" * 300, "--"):
        response = analyst.get("/", query_string={"state": "all", "search": bad})
        assert response.status_code == 400, bad
        assert len(errors(parse(response))) == 1, bad


def test_every_search_is_audited_with_who_what_and_how_many(backend: Backend) -> None:
    factory, analyst, legal = backend.factory, backend.client(), backend.client("lee")

    analyst.get("/?state=all")  # no search: no row
    analyst.get("/?state=all&search=fentanyl+OR+protonitazene&sort=source")
    analyst.get("/?state=all&search=fentanyl+OR+protonitazene&sort=source")  # again: a row again
    legal.get("/?search=nothing-matches-this")

    rows = searches(factory)
    assert [(r.actor, r.object_type, r.object_id) for r in rows] == [
        ("ana", "search", "queue"),
        ("ana", "search", "queue"),
        ("lee", "search", "queue"),
    ]
    assert rows[0].actor_id == backend.seed.users["ana"]
    assert rows[0].detail == {
        "query": "fentanyl OR protonitazene",
        "filters": {"state": "all", "sort": "source"},
        "results": 2,
    }
    assert rows[2].detail["results"] == 0
    assert rows[2].detail["filters"] == {"state": "escalated"}  # legal's default queue
    assert rows[0].request_id and rows[0].request_id != rows[1].request_id


def test_saving_a_filter_with_a_search_keeps_it(backend: Backend) -> None:
    analyst = backend.client()

    response = post(analyst, "/filters", {"name": "opioids", "query": "state=all&search=fentanyl"})

    assert response.status_code == 302
    page = parse(analyst.get(response.headers["Location"]))
    assert page.xpath("//input[@id='search']/@value") == ["fentanyl"]
    assert case_rows(page) == [backend.seed.cases["fentanyl"]]


# ---------------------------------------------------------------- the listings page


def test_the_listings_search_combines_with_its_filters_and_is_audited(backend: Backend) -> None:
    seed, factory, analyst = backend.seed, backend.factory, backend.client()

    every = parse(analyst.get("/listings?search=nitazenes+OR+protonitazene"))
    without_case = parse(analyst.get("/listings?search=nitazenes+OR+protonitazene&case=without"))

    assert listing_rows(every) == [seed.listings["nitazene"], seed.listings["news"]]
    assert listing_rows(without_case) == [seed.listings["news"]]
    (news,) = without_case.xpath("//tr[@class='listing']")
    assert marks(news) == ["nitazenes", "nitazenes"]  # in its title and its text
    assert every.xpath("//input[@id='search']/@value") == ["nitazenes OR protonitazene"]
    rows = searches(factory)
    assert [(r.actor, r.object_id, r.detail["results"]) for r in rows] == [
        ("ana", "listings", 2),
        ("ana", "listings", 1),
    ]
    assert rows[1].detail["filters"] == {"case": "without"}


def test_the_listings_pager_keeps_the_search(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listings_view, "PAGE_SIZE", 1)
    analyst = backend.client()

    page = parse(analyst.get("/listings?search=nitazenes+OR+protonitazene&q=a"))

    (next_link,) = page.xpath("//a[@rel='next']/@href")
    assert link_args(next_link) == {
        "search": ["nitazenes OR protonitazene"],
        "q": ["a"],
        "page": ["2"],
    }


def test_a_bad_listings_query_is_a_message_with_the_query_kept(backend: Backend) -> None:
    analyst = backend.client()

    response = analyst.get("/listings", query_string={"search": "fentanyl AND", "flag": "flagged"})

    assert response.status_code == 400
    page = parse(response)
    (message,) = errors(page)
    assert "AND needs a term on each side" in message
    assert page.xpath("//input[@id='search']/@value") == ["fentanyl AND"]
    assert page.xpath("//select[@id='flag']/option[@selected]/@value") == ["flagged"]
    assert len(listing_rows(page)) == 5  # every flagged listing: the search was left out
    assert searches(backend.factory) == []


# ---------------------------------------------------------------- scraped text in snippets


def expected_snippet(text: str, query: str) -> str:
    found = snippet(text, match_pattern(parse_search(query)))
    assert found is not None
    inner = "".join(part for part, _matched in found.segments)
    return ("…" if found.cut_before else "") + inner + ("…" if found.cut_after else "")


@pytest.mark.parametrize("query", ["fentanyl", "script OR alert OR onerror OR svg"])
def test_snippets_of_the_xss_corpus_are_text_with_only_marks(
    app: Flask,
    factory: sessionmaker[Session],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
) -> None:
    cases = seed_payloads(factory, home)
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 1000)
    monkeypatch.setattr(listings_view, "PAGE_SIZE", 1000)
    analyst = signed_in(app, "ana")
    texts = {
        case_id: f"Fentanyl 99% {payload} wickr: {payload}" for case_id, payload in cases.items()
    }

    queue = analyst.get("/", query_string={"state": "all", "source": "xss-market", "search": query})
    listings = analyst.get("/listings", query_string={"source": "xss-market", "search": query})

    for response in (queue, listings):
        assert response.status_code == 200
        page = parse(response)
        assert_inert(page)
        snippets = page.xpath("//p[@class='search-snippet']")
        assert len(snippets) >= (len(PAYLOADS) if query == "fentanyl" else 50)
        for snip in snippets:
            # Inside a snippet only the app's own marks: every payload's tags were escaped.
            assert {child.tag for child in snip.iterdescendants()} <= {"mark", "span"}
            assert all(m.get("class") == "search-match" for m in snip.iter("mark"))
    page = parse(queue)
    for row in page.xpath("//tr[@data-case-id]"):
        case_id = int(row.get("data-case-id"))
        (snip,) = row.xpath(".//p[@class='search-snippet']")
        # The snippet reads as the listing's text: escaped, never dropped or cut differently.
        assert snip.text_content() == expected_snippet(texts[case_id], query)
        title = row.xpath(".//td[@class='title']/a")[0]
        assert " ".join(title.text_content().split()) == " ".join(cases[case_id][:500].split())


# ---------------------------------------------------------------- the write lock


@pytest.mark.parametrize("path", ["/", "/listings"])
def test_only_a_request_that_searches_takes_the_write_lock(
    analyst: FlaskClient, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    locked: list[str] = []
    monkeypatch.setattr(context, "lock_chain", lambda session: locked.append("lock"))

    assert analyst.get(f"{path}?search=").status_code == 200
    assert locked == []  # browsing never waits for a writer
    assert analyst.get(f"{path}?search=fentanyl").status_code == 200
    assert locked == ["lock"]  # before the first read: the audit row can't fail on SQLite
