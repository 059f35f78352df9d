"""Substances and classes week by week, and the first listings naming a substance or a term:
the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.db import make_session_factory, transaction
from storage.listings import AnalysisRecord, MentionRecord
from storage.models import Case, ListingVersion
from storage.substances import (
    CandidateRecord,
    first_listings_of_candidates,
    first_listings_of_substances,
    record_candidates,
    weekly_class_counts,
    weekly_substance_counts,
)
from tests.factories import add_listing, add_source

# ISO weeks 2026-W46, W47 and W48 (Mondays), and the Monday after.
W46 = datetime(2026, 11, 9, tzinfo=UTC)
BOUNDS = [W46 + timedelta(days=7 * n) for n in range(4)]
W45, W47, W48 = W46 - timedelta(days=7), BOUNDS[1], BOUNDS[2]


def offer(text: str, *names: tuple[str, str, str], offer: bool = True) -> AnalysisRecord:
    """An analysis naming each (concept, name, class) at its place in ``text``."""
    mentions = []
    for concept, name, cls in names:
        start = text.lower().index(name.lower())
        mentions.append(MentionRecord(concept, name, cls, "", start, start + len(name), name, 0.9))
    return AnalysisRecord(score=5.0 if offer else 0.2, offer=offer, mentions=mentions)


FENTANYL = ("fentanyl", "Fentanyl", "fentanyl")
CARFENTANIL = ("carfentanil", "Carfentanil", "fentanyl")
NITAZENE = ("protonitazene", "Protonitazene", "nitazene")
MEPHEDRONE = ("mephedrone", "Mephedrone", "synthetic_cathinone")


@pytest.fixture
def stored(any_engine: Engine) -> Iterator[tuple[Session, dict[str, int]]]:
    ids: dict[str, int] = {}
    with transaction(make_session_factory(any_engine)) as session:
        add_source(session, W45)
        text = "Fentanyl and carfentanil, 10 g, wickr"
        # Two substances of one class in one listing, which changes the week after.
        ids["a"] = add_listing(
            session,
            "https://shop.example/a",
            W46 + timedelta(hours=3),
            text=text,
            title="A first",
            analysis=offer(text, FENTANYL, CARFENTANIL),
        ).listing.id
        add_listing(
            session,
            "https://shop.example/a",
            W47 + timedelta(hours=3),
            text=text + " now 50 g",
            title="A changed",
            analysis=offer(text, FENTANYL, CARFENTANIL),
        )
        news = "Police warn about fentanyl"
        ids["news"] = add_listing(
            session,
            "https://shop.example/news",
            W47,
            text=news,
            title="News",
            analysis=offer(news, FENTANYL, offer=False),
        ).listing.id
        ids["g"] = add_listing(
            session,
            "https://shop.example/g",
            W47 + timedelta(days=6, hours=23),
            text=text,
            title="G",
            analysis=offer(text, FENTANYL),
        ).listing.id
        nitazene = "Protonitazene 5 g $250"
        ids["c"] = add_listing(
            session,
            "https://shop.example/c",
            W48 + timedelta(days=2),
            text=nitazene,
            title="C",
            analysis=offer(nitazene, NITAZENE),
        ).listing.id
        # Before the weeks asked for: neither it nor its case counts.
        ids["old"] = add_listing(
            session,
            "https://shop.example/old",
            W45,
            text=text,
            title="Old",
            analysis=offer(text, FENTANYL),
        ).listing.id
        # Dismissed by an analyst: not on offer, and its case is not counted.
        mephedrone = "Mephedrone crystals"
        dismissed = add_listing(
            session,
            "https://shop.example/e",
            W48,
            text=mephedrone,
            title="E",
            analysis=offer(mephedrone, MEPHEDRONE),
        )
        assert dismissed.case is not None
        dismissed.case.state = "dismissed"
    with make_session_factory(any_engine)() as session:
        yield session, ids


def test_substances_are_counted_in_the_week_a_listing_first_offered_them(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, _ids = stored

    counts = weekly_substance_counts(session, bounds=BOUNDS)

    assert [(c.key, c.name, c.substance_class, c.listings, c.cases) for c in counts] == [
        ("fentanyl", "Fentanyl", "fentanyl", (1, 1, 0), (1, 1, 0)),
        ("carfentanil", "Carfentanil", "fentanyl", (1, 0, 0), (1, 0, 0)),
        ("protonitazene", "Protonitazene", "nitazene", (0, 0, 1), (0, 0, 1)),
    ]
    assert (counts[0].total_listings, counts[0].total_cases) == (2, 2)


def test_classes_count_a_listing_once_whatever_it_names_of_them(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, _ids = stored

    counts = weekly_class_counts(session, bounds=BOUNDS)

    assert [(c.key, c.name, c.listings, c.cases) for c in counts] == [
        ("fentanyl", "fentanyl", (1, 1, 0), (1, 1, 0)),
        ("nitazene", "nitazene", (0, 0, 1), (0, 0, 1)),
    ]


def test_wider_bounds_take_in_the_listings_of_an_earlier_week(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, ids = stored
    wider = [W45, *BOUNDS]

    fentanyl = next(
        c for c in weekly_substance_counts(session, bounds=wider) if c.key == "fentanyl"
    )

    assert fentanyl.listings == (1, 1, 1, 0)
    assert fentanyl.cases == (1, 1, 1, 0)
    case = session.scalar(select(Case).where(Case.listing_id == ids["old"]))
    assert case is not None and case.created_at == W45


def test_weeks_with_nothing_give_no_rows(stored: tuple[Session, dict[str, int]]) -> None:
    session, _ids = stored
    later = [BOUNDS[-1] + timedelta(days=7 * n) for n in range(3)]

    assert weekly_substance_counts(session, bounds=later) == []
    assert weekly_class_counts(session, bounds=later) == []


@pytest.mark.parametrize(
    "bounds",
    [[W46], [W47, W46], [W46, W46], [W46.replace(tzinfo=None), W47.replace(tzinfo=None)]],
    ids=["one bound", "descending", "equal", "naive"],
)
def test_bounds_that_make_no_weeks_are_refused(session: Session, bounds: list[datetime]) -> None:
    with pytest.raises(ValueError, match="bounds"):
        weekly_substance_counts(session, bounds=bounds)


def test_the_first_listings_of_a_substance_are_the_earliest_on_offer(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, ids = stored

    found = first_listings_of_substances(session, ["fentanyl", "protonitazene", "unknown"], limit=2)

    assert set(found) == {"fentanyl", "protonitazene"}
    # The news page names fentanyl but offers nothing; "old" came first, then "a".
    assert [(f.listing_id, f.title) for f in found["fentanyl"]] == [
        (ids["old"], "Old"),
        (ids["a"], "A first"),
    ]
    assert found["protonitazene"][0].url == "https://shop.example/c"
    assert first_listings_of_substances(session, []) == {}


def test_the_first_listings_of_a_candidate_come_from_its_examples(
    stored: tuple[Session, dict[str, int]],
) -> None:
    session, ids = stored
    listing_versions = {
        key: list(
            session.scalars(
                select(ListingVersion.id)
                .where(ListingVersion.listing_id == ids[key])
                .order_by(ListingVersion.id)
            )
        )
        for key in ("a", "c", "g")
    }
    term = [CandidateRecord("ZX-42 Pinacone", "buy ZX-42 Pinacone")]
    # Seen twice in listing "a" (two versions), then in "c", then in "g".
    for key, n in (("a", 0), ("a", 1), ("c", 0), ("g", 0)):
        record_candidates(session, term, version_id=listing_versions[key][n], now=W48)
    record_candidates(session, [CandidateRecord("QK-7", "x")], version_id=999_999, now=W48)

    found = first_listings_of_candidates(session, ["zx-42 pinacone", "qk-7"], limit=2)

    assert [f.listing_id for f in found["zx-42 pinacone"]] == [ids["a"], ids["c"]]
    assert found["zx-42 pinacone"][0].title == "A first"
    assert found["qk-7"] == ()  # its version is gone: no link to give
    assert first_listings_of_candidates(session, []) == {}
