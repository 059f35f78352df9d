"""Routes of listings on offer: where they ship from and to, and by what, counted by week.

Extraction stores each as an indicator of kind ``route`` whose value is ``from:CN``, ``to:US``,
``to:EU``, ``to:WORLD`` or ``by:EMS`` (ISO 3166-1 alpha-2 codes, "EU" and "WORLD"; a carrier or
method by its usual name). A listing version's routes are its ship-from codes times its
ship-to codes; a version that names only one side gives routes with the other side unknown
(``UNKNOWN``: "CN → ?" or "? → US").

Counted as ``storage.substances`` counts substances, over listings on offer (its ``on_offer``):
a listing counts for a route in the week its first version on offer showing that route was
stored, once however often it is recrawled after; for a route and a substance class, in the
week of its first version on offer showing the route and naming a substance of that class
(``NO_CLASS`` when the version names none). So a listing naming two classes counts once for
its route and once for each class. Carriers are counted the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    Subquery,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from storage.models import Indicator, ListingVersion, Mention
from storage.substances import on_offer

ROUTE_KIND = "route"
FROM, TO, BY = "from:", "to:", "by:"
# The side of a route a listing does not name.
UNKNOWN = ""
# The class of listings on offer that name no known substance.
NO_CLASS = ""


@dataclass(frozen=True, slots=True)
class ClassWeeks:
    """The listings on offer newly showing a route and naming a substance class, per week."""

    substance_class: str
    listings: tuple[int, ...]

    @property
    def total(self) -> int:
        """Return the listings over all the weeks."""
        return sum(self.listings)


@dataclass(frozen=True, slots=True)
class RouteWeeks:
    """A route, origin to destination, week by week: the listings on offer newly showing it
    (any class), and the same per substance class, most first."""

    origin: str
    destination: str
    listings: tuple[int, ...]
    by_class: tuple[ClassWeeks, ...]

    @property
    def total(self) -> int:
        """Return the listings newly showing the route over all the weeks."""
        return sum(self.listings)


@dataclass(frozen=True, slots=True)
class CarrierWeeks:
    """A carrier or method (EMS, DHL, air mail, sea), week by week: the listings on offer
    newly naming it."""

    carrier: str
    listings: tuple[int, ...]

    @property
    def total(self) -> int:
        """Return the listings naming it over all the weeks."""
        return sum(self.listings)


# Written as a literal, not a parameter: only then may SQLite and PostgreSQL use the partial
# index of route indicators (migration 0015), whose condition this must match.
_IS_ROUTE = Indicator.kind == literal_column(f"'{ROUTE_KIND}'")


def _codes(prefix: str) -> Select[int, str]:
    """Return (version id, code) of the route indicators whose value starts with ``prefix``."""
    return (
        select(
            Indicator.version_id.label("version_id"),
            func.substr(Indicator.value, len(prefix) + 1).label("code"),
        )
        # A prefix test, not a range: a range's bounds would depend on the collation.
        .where(_IS_ROUTE, func.substr(Indicator.value, 1, len(prefix)) == prefix)
        .distinct()
    )


def _pairs() -> CompoundSelect[int, str, str]:
    """Return (version id, origin, destination) of every version with a route."""
    origins = _codes(FROM).cte("route_origins")
    destinations = _codes(TO).cte("route_destinations")
    unknown = cast(literal(UNKNOWN), String)
    both = select(
        origins.c.version_id,
        origins.c.code.label("origin"),
        destinations.c.code.label("destination"),
    ).join(destinations, destinations.c.version_id == origins.c.version_id)
    only_from = select(origins.c.version_id, origins.c.code, unknown).where(
        ~exists().where(destinations.c.version_id == origins.c.version_id)
    )
    only_to = select(destinations.c.version_id, unknown, destinations.c.code).where(
        ~exists().where(origins.c.version_id == destinations.c.version_id)
    )
    return union_all(both, only_from, only_to)


def _week(bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Return a version's week among ``bounds``: -1 before the first, None after the last."""
    weeks = enumerate(bounds[1:])
    return case(
        (ListingVersion.created_at < bounds[0], -1),
        *((ListingVersion.created_at < bound, number) for number, bound in weeks),
        else_=None,
    )


def _first_weeks(
    keys: Sequence[ColumnElement[str]], source: Subquery, bounds: Sequence[datetime]
) -> Select[*tuple[Any, ...]]:
    """Group rows of ``source`` (with a ``version_id``) joined to their versions on offer by
    ``keys`` and listing; return the keys, the listing and its first version's week."""
    # The minimum of the week, not of the moment: weeks ascend with moments, and an integer
    # is all that leaves the database.
    return (
        select(*keys, ListingVersion.listing_id, func.min(_week(bounds)).label("week"))
        .select_from(source)
        .join(ListingVersion, ListingVersion.id == source.c.version_id)
        .where(on_offer(), ListingVersion.created_at < bounds[-1])
        .group_by(*keys, ListingVersion.listing_id)
    )


def _counted(
    session: Session, rows: Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]], width: int
) -> dict[tuple[str, ...], dict[int, int]]:
    """Count the rows of a query (``width`` keys, then a week) per keys and week."""
    found: dict[tuple[str, ...], dict[int, int]] = {}
    for row in session.execute(rows):
        found.setdefault(tuple(row[:width]), {})[row[width]] = row[width + 1]
    return found


def _series(counts: dict[int, int], weeks: int) -> tuple[int, ...]:
    return tuple(counts.get(week, 0) for week in range(weeks))


def weekly_route_counts(session: Session, *, bounds: Sequence[datetime]) -> list[RouteWeeks]:
    """Count, per route and week, the listings on offer that newly showed it, also per class.

    ``bounds`` are the weeks' first moments and the end of the last one: week ``i`` is
    ``[bounds[i], bounds[i + 1])``. Routes with nothing in any of the weeks are left out; the
    most shown come first.
    """
    _check_bounds(bounds)
    weeks = len(bounds) - 1
    pairs = _pairs().subquery("route_pairs")
    # Each (route, class, listing) once, with the week it was first shown; a listing's route
    # counts in the earliest week of its classes. The classes are grouped outside the join
    # (PostgreSQL binds each parameter apart, so a COALESCE repeated in GROUP BY would differ).
    with_class = (
        select(
            pairs.c.version_id,
            pairs.c.origin,
            pairs.c.destination,
            func.coalesce(Mention.substance_class, NO_CLASS).label("substance_class"),
        )
        .outerjoin(Mention, Mention.version_id == pairs.c.version_id)
        .subquery("route_classes")
    )
    keys = [with_class.c.origin, with_class.c.destination, with_class.c.substance_class]
    first = _first_weeks(keys, with_class, bounds).cte("route_firsts")
    per_class = (
        select(first.c.origin, first.c.destination, first.c.substance_class, first.c.week)
        .where(first.c.week >= 0)
        .subquery()
    )
    per_route = (
        select(first.c.origin, first.c.destination, func.min(first.c.week).label("week"))
        .group_by(first.c.origin, first.c.destination, first.c.listing_id)
        .subquery()
    )
    # One statement, so the firsts are found once: a route's own rows have no class (NULL).
    both = union_all(
        select(*per_class.c, func.count()).group_by(*per_class.c),
        select(
            per_route.c.origin,
            per_route.c.destination,
            cast(null(), String),
            per_route.c.week,
            func.count(),
        )
        .where(per_route.c.week >= 0)
        .group_by(*per_route.c),
    )
    counted = _counted(session, both, 3)
    route_counts = {(o, d): c for (o, d, cls), c in counted.items() if cls is None}
    by_route: dict[tuple[str, ...], list[ClassWeeks]] = {}
    for (origin, destination, substance_class), counts in counted.items():
        if substance_class is not None:
            by_route.setdefault((origin, destination), []).append(
                ClassWeeks(substance_class, _series(counts, weeks))
            )
    routes = [
        RouteWeeks(
            origin=origin,
            destination=destination,
            listings=_series(counts, weeks),
            by_class=tuple(
                sorted(
                    by_route.get((origin, destination), []),
                    key=lambda c: (-c.total, c.substance_class),
                )
            ),
        )
        for (origin, destination), counts in route_counts.items()
    ]
    return sorted(routes, key=lambda r: (-r.total, r.origin, r.destination))


def weekly_carrier_counts(session: Session, *, bounds: Sequence[datetime]) -> list[CarrierWeeks]:
    """Count, per carrier or method and week, the listings on offer that newly named it (as
    `weekly_route_counts` counts routes); the most named first."""
    _check_bounds(bounds)
    carriers = _codes(BY).subquery("route_carriers")
    first = _first_weeks([carriers.c.code], carriers, bounds).subquery()
    query = (
        select(first.c.code, first.c.week, func.count())
        .where(first.c.week >= 0)
        .group_by(first.c.code, first.c.week)
    )
    counts = _counted(session, query, 1)
    found = [CarrierWeeks(key[0], _series(c, len(bounds) - 1)) for key, c in counts.items()]
    return sorted(found, key=lambda c: (-c.total, c.carrier))


def _check_bounds(bounds: Sequence[datetime]) -> None:
    if len(bounds) < 2:
        raise ValueError(f"weekly route counts need at least two bounds, not {len(bounds)}")
    if any(moment.tzinfo is None for moment in bounds):
        raise ValueError("weekly route counts need timezone-aware bounds")
    if any(later <= earlier for earlier, later in pairwise(bounds)):
        raise ValueError(f"the bounds of weekly route counts must ascend: {list(bounds)}")
