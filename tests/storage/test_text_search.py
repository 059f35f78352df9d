from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.audit import verify_chain
from storage.cases import CaseFilter, count_queue, queue_page
from storage.db import make_session_factory, transaction
from storage.listing_search import ListingFilter, count_listings, listings_page
from storage.listings import AnalysisRecord
from storage.migrate import upgrade
from storage.models import AuditEvent
from storage.search_snippets import listing_hits, match_pattern, snippet
from storage.text_search import (
    SearchSyntaxError,
    fts5_query,
    parse_search,
    record_search,
    tsquery_text,
)
from tests.conftest import downgrade
from tests.factories import add_listing, add_source

OFFER = AnalysisRecord(score=0.9, offer=True)
# Invented listings: (path, title, text, fields).
LISTINGS = [
    (
        "carfentanil",
        "Carfentanil powder 99%",
        "Pure carfentanil powder, stealth shipping. Contact seller@example.invalid today.",
        {"price": "USD 400", "seller": "chemking-demo"},
    ),
    (
        "pills",
        "M30 pressed pills",
        "Pressed pills, blue, 500 pcs MOQ. Fentanyl-free? No: fentanyl pressed into each.",
        {},
    ),
    (
        "patch",
        "Fentanyl patch information",
        "How a fentanyl patch works, for carers. Not for sale.",
        {},
    ),
    (
        "mmc",
        "4-MMC crystal",
        "4-MMC crystals, naïve buyers welcome; wickr ID moon_rocket.",
        {"origin": "Ünïted Pharma Lab"},
    ),
]


def store_all(session: Session, now: datetime) -> dict[str, int]:
    add_source(session, now)
    ids = {}
    for path, title, text, fields in LISTINGS:
        stored = add_listing(
            session,
            f"https://shop.example/{path}",
            now,
            title=title,
            text=text,
            fields=fields,
            analysis=OFFER,
        )
        ids[path] = stored.listing.id
    return ids


@pytest.fixture
def stored(any_engine: Engine, now: datetime) -> Iterator[tuple[Session, dict[str, int]]]:
    with transaction(make_session_factory(any_engine)) as session:
        ids = store_all(session, now)
    with make_session_factory(any_engine)() as session:
        yield session, ids


def found(session: Session, ids: dict[str, int], text: str) -> set[str]:
    names = {listing_id: path for path, listing_id in ids.items()}
    filters = ListingFilter(search=parse_search(text))
    rows = listings_page(session, filters, limit=100)
    assert count_listings(session, filters) == len(rows)
    return {names[row.listing_id] for row in rows}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fentanyl", {"pills", "patch"}),
        ("FENTANYL", {"pills", "patch"}),  # any case
        ("fentanyl pressed", {"pills"}),  # AND implied
        ("fentanyl AND pressed", {"pills"}),
        ("carfentanil OR mmc", {"carfentanil", "mmc"}),
        ("fentanyl NOT patch", {"pills"}),
        ('"pressed pills"', {"pills"}),
        ('"pills pressed"', set()),  # a phrase keeps its order
        ("carfent*", {"carfentanil"}),
        ("crystal*", {"mmc"}),
        ("4-MMC", {"mmc"}),  # punctuation splits words alike on both backends
        ("seller@example.invalid", {"carfentanil"}),
        ("example", {"carfentanil"}),  # a part of an e-mail address
        ("moon_rocket", {"mmc"}),
        ("chemking", {"carfentanil"}),  # a field's value
        ("usd 400", {"carfentanil"}),
        ("price", set()),  # a field's name is not searched
        ("naïve", {"mmc"}),
        ("naive", set()),  # diacritics are kept
        ("ünïted", {"mmc"}),
        ("(fentanyl OR carfentanil) powder", {"carfentanil"}),
        ("fentanyl NOT (patch OR pills)", set()),
        ("and", set()),  # lower case: a word, not an operator
    ],
)
def test_search_finds_words_phrases_prefixes_and_fields(
    stored: tuple[Session, dict[str, int]], query: str, expected: set[str]
) -> None:
    session, ids = stored
    assert found(session, ids, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('carfentanil" OR "x', set()),  # carfentanil AND the word "or" AND x
        ("title:carfentanil", set()),  # no column filters: two words
        ("NEAR(carfentanil powder)", set()),
        ("carfentanil' | 'patch", set()),
        ("carfentanil:* & !patch", set()),
        ("carfentanil\\", {"carfentanil"}),
        ("^carfentanil", {"carfentanil"}),
        ("carfentanil +", {"carfentanil"}),
        ("{title text}: carfentanil", set()),
        ("carfentanil -- ;DROP TABLE listings", set()),
    ],
)
def test_search_syntax_of_either_backend_is_only_words(
    stored: tuple[Session, dict[str, int]], query: str, expected: set[str]
) -> None:
    session, ids = stored
    assert found(session, ids, query) == expected


@pytest.mark.parametrize("query", ["'\\'':*", '"*"', "&|!<->", "NOT", "AND OR"])
def test_queries_of_operators_alone_are_refused(query: str) -> None:
    with pytest.raises(SearchSyntaxError):
        parse_search(query)


def test_search_matches_the_latest_version_only(any_engine: Engine, now: datetime) -> None:
    factory = make_session_factory(any_engine)
    with transaction(factory) as session:
        add_source(session, now)
        url = "https://shop.example/changed"
        add_listing(session, url, now, title="Old", text="etizolam blotters", analysis=OFFER)
        later = now + timedelta(days=1)
        add_listing(session, url, later, title="New", text="bromazolam pellets", analysis=OFFER)
    with factory() as session:
        assert count_listings(session, ListingFilter(search=parse_search("etizolam"))) == 0
        assert count_listings(session, ListingFilter(search=parse_search("bromazolam"))) == 1


def test_search_combines_with_the_queue_filters(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, _ids = stored
    search = parse_search("fentanyl")
    assert count_queue(session, CaseFilter(state=None, search=search)) == 2
    assert count_queue(session, CaseFilter(state="dismissed", search=search)) == 0
    rows = queue_page(session, CaseFilter(state="new", search=parse_search('"pressed pills"')))
    assert [row.title for row in rows] == ["M30 pressed pills"]


def test_search_combines_with_the_listing_filters(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, _ids = stored
    search = parse_search("fentanyl")
    assert count_listings(session, ListingFilter(search=search, text="patch")) == 1
    assert count_listings(session, ListingFilter(search=search, flagged=False)) == 0


def test_migration_indexes_versions_stored_before_it(any_engine: Engine, now: datetime) -> None:
    downgrade(any_engine, "0009")
    with transaction(make_session_factory(any_engine)) as session:
        ids = store_all(session, now)
    upgrade(any_engine)
    with make_session_factory(any_engine)() as session:
        assert found(session, ids, "carfent*") == {"carfentanil"}
        assert found(session, ids, "chemking") == {"carfentanil"}


def test_hits_mark_the_matches_in_title_and_snippet(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, ids = stored
    hits = listing_hits(session, list(ids.values()), parse_search("carfent* NOT patch"))
    hit = hits[ids["carfentanil"]]
    assert hit.title == (("Carfentanil", True), (" powder 99%", False))
    assert hit.snippet is not None and hit.snippet.where == "text"
    assert ("carfentanil", True) in hit.snippet.segments
    field_hit = listing_hits(session, [ids["carfentanil"]], parse_search("chemking"))
    snip = field_hit[ids["carfentanil"]].snippet
    assert snip is not None and snip.where == "fields"
    assert ("chemking", True) in snip.segments


def test_snippet_cuts_a_long_text_around_the_first_match() -> None:
    text = "filler " * 200 + "Buy Nitazene\n\n pellets here " + "more " * 200
    cut = snippet(text, match_pattern(parse_search('"nitazene pellets"')))
    assert cut is not None and cut.cut_before and cut.cut_after
    joined = "".join(part for part, _ in cut.segments)
    assert "Buy Nitazene pellets here" in joined and len(joined) <= 260
    assert [part for part, hit in cut.segments if hit] == ["Nitazene pellets"]
    assert snippet(text, match_pattern(parse_search("fentanyl"))) is None


def test_every_search_can_be_audited(stored: tuple[Session, dict[str, int]], now: datetime) -> None:
    session, _ids = stored
    record_search(session, parse_search("  carfent*   powder "), where="cli", results=1, now=now)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "search")).one()
    assert event.object_id == "cli"
    assert event.detail == {"query": "carfent* powder", "filters": {}, "results": 1}
    assert verify_chain(session) is None


@pytest.mark.parametrize(
    ("query", "fts5", "tsquery"),
    [
        ("a b", '("a") AND ("b")', "('a') & ('b')"),
        ("ab* OR c", '("ab"*) OR ("c")', "('ab':*) | ('c')"),
        ('"x y" NOT z', '(("x y")) NOT (("z"))', "('x' <-> 'y') & (!('z'))"),
        ("O'Brien", '"o brien"', "'o' <-> 'brien'"),
    ],
)
def test_queries_compile_from_words_only(query: str, fts5: str, tsquery: str) -> None:
    tree = parse_search(query).tree
    assert (fts5_query(tree), tsquery_text(tree)) == (fts5, tsquery)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Nothing to search for"),
        ("$$ %%", "has no letters or digits"),
        ('"pressed pills', "The quote at character 1 is not closed"),
        ("(a OR b", "The parenthesis at character 1 is not closed"),
        ("a) b", "A closing parenthesis at character 2 opens nothing"),
        ("OR fentanyl", "OR needs a term on each side"),
        ("fentanyl AND", "AND needs a term on each side"),
        ("NOT patch", "NOT patch alone matches nearly every listing"),
        ("fentanyl OR NOT patch", "NOT patch alone"),
        ("NOT a NOT b", "Every term is under NOT"),
        ("f*", "a prefix needs at least 2 letters"),
        ("x" * 201, "at most 200 characters, not 201"),
        (" ".join(f"w{n}" for n in range(21)), "at most 20 terms"),
        ("(" * 9 + "a" + ")" * 9, "nest at most 8 deep"),
    ],
)
def test_bad_queries_say_what_to_change(query: str, message: str) -> None:
    with pytest.raises(SearchSyntaxError, match=message.replace("(", r"\(")):
        parse_search(query)
