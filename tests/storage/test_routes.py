"""Routes (each ship-from with each ship-to) and carriers of listings on offer, by week: the
same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.db import make_session_factory, transaction
from storage.listings import AnalysisRecord, IndicatorRecord, MentionRecord
from storage.models import Case
from storage.routes import (
    NO_CLASS,
    UNKNOWN,
    CarrierWeeks,
    ClassWeeks,
    RouteWeeks,
    weekly_carrier_counts,
    weekly_route_counts,
)
from tests.factories import add_listing, add_source

# ISO weeks 2026-W46, W47 and W48 (Mondays), and the Monday after.
W46 = datetime(2026, 11, 9, tzinfo=UTC)
BOUNDS = [W46 + timedelta(days=7 * n) for n in range(4)]
W45, W47, W48 = W46 - timedelta(days=7), BOUNDS[1], BOUNDS[2]

NITAZENE = ("protonitazene", "Protonitazene", "nitazene")
FENTANYL = ("fentanyl", "Fentanyl", "opioid")


def analysis(
    routes: tuple[str, ...], *names: tuple[str, str, str], offer: bool = True
) -> AnalysisRecord:
    """An analysis with these route values (at the text's start) and substances."""
    mentions = [MentionRecord(c, n, cls, "", 0, 3, n, 0.9) for c, n, cls in names]
    indicators = [IndicatorRecord("route", 0, 3, value, value) for value in routes]
    indicators.append(IndicatorRecord("price", 0, 3, "$120", "120 USD"))
    return AnalysisRecord(score=5.0, offer=offer, mentions=mentions, indicators=indicators)


@pytest.fixture
def session(any_engine: Engine) -> Iterator[Session]:
    factory = make_session_factory(any_engine)
    with transaction(factory) as session:
        add_source(session, W45)

        def listing(name: str, when: datetime, text: str, found: AnalysisRecord) -> int:
            url = f"https://shop.example/{name}"
            stored = add_listing(session, url, when, text=text, title=name, analysis=found)
            return stored.listing.id

        route_a = ("from:CN", "to:US", "to:CA", "by:EMS")
        # Two classes; recrawled changed the week after, now also to Mexico.
        listing("a", W46 + timedelta(hours=3), "a one", analysis(route_a, NITAZENE, FENTANYL))
        listing(
            "a",
            W47 + timedelta(hours=3),
            "a two",
            analysis((*route_a, "to:MX"), NITAZENE, FENTANYL),
        )
        listing("b", W47 + timedelta(days=6, hours=23), "b", analysis(("from:CN",), NITAZENE))
        listing("c", W48, "c", analysis(("to:WORLD", "by:DHL")))
        # Not on offer: a news page, a dismissed case, a listing from before the weeks.
        news = analysis(("from:CN", "to:US", "by:EMS"), FENTANYL, offer=False)
        listing("news", W47, "news", news)
        dismissed = listing("d", W48, "d", analysis(("from:NL", "to:GB"), FENTANYL))
        listing("old", W45, "old", analysis(("from:CN", "to:US"), FENTANYL))
        case = session.query(Case).filter_by(listing_id=dismissed).one()
        case.state = "dismissed"
    with factory() as session:
        yield session


def test_routes_are_origins_times_destinations_counted_once_per_listing(
    session: Session,
) -> None:
    routes = weekly_route_counts(session, bounds=BOUNDS)

    nitazene, opioid = ClassWeeks("nitazene", (1, 0, 0)), ClassWeeks("opioid", (1, 0, 0))
    assert routes == [
        RouteWeeks(UNKNOWN, "WORLD", (0, 0, 1), (ClassWeeks(NO_CLASS, (0, 0, 1)),)),
        RouteWeeks("CN", UNKNOWN, (0, 1, 0), (ClassWeeks("nitazene", (0, 1, 0)),)),
        RouteWeeks("CN", "CA", (1, 0, 0), (nitazene, opioid)),
        RouteWeeks(
            "CN",
            "MX",
            (0, 1, 0),
            (ClassWeeks("nitazene", (0, 1, 0)), ClassWeeks("opioid", (0, 1, 0))),
        ),
        RouteWeeks("CN", "US", (1, 0, 0), (nitazene, opioid)),
    ]
    assert [r.total for r in routes] == [1] * 5


def test_a_route_first_seen_before_the_weeks_is_not_new_in_them(session: Session) -> None:
    routes = weekly_route_counts(session, bounds=[W45, W46])

    assert [(r.origin, r.destination, r.listings) for r in routes] == [("CN", "US", (1,))]


def test_carriers_are_counted_by_week(session: Session) -> None:
    assert weekly_carrier_counts(session, bounds=BOUNDS) == [
        CarrierWeeks("DHL", (0, 0, 1)),
        CarrierWeeks("EMS", (1, 0, 0)),
    ]


def test_weeks_without_routes_give_nothing(session: Session) -> None:
    later = [BOUNDS[-1], BOUNDS[-1] + timedelta(days=7)]
    assert weekly_route_counts(session, bounds=later) == []
    assert weekly_carrier_counts(session, bounds=later) == []


@pytest.mark.parametrize(
    "bounds",
    [[W46], [W47, W46], [datetime(2026, 11, 9), datetime(2026, 11, 16)]],
    ids=["one bound", "descending", "naive"],
)
def test_bad_bounds_are_refused(bounds: list[datetime]) -> None:
    with pytest.raises(ValueError, match="route counts"):
        weekly_route_counts(None, bounds=bounds)  # type: ignore[arg-type]
