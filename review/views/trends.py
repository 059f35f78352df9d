"""The trends page: substances and classes week by week, what is new, and how sources are doing.

Weeks are ISO weeks in UTC: the last ``weeks`` of them (the query parameter, DEFAULT_WEEKS unless
asked, 1 to MAX_WEEKS), this week so far the last. What counts is ``storage.substances``'s: a
listing counts in the week it first offered a substance (``weekly_substance_counts``), a case in
the week it was opened on a listing naming it, dismissed cases left out; the week totals count
every case opened (``count_new_cases``). Routes (origin → destination, by class) and carriers are
``storage.routes``'s, counted the same way: a listing in the week it first showed one. The
chart is a PNG of its own route, drawn with the digest's drawing habits (``review.digest.chart``):
the CSP lets pages load images from the app only, and no script. Source health is the sources
page's last run and the digest's activity of the weeks shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from flask import Blueprint, abort, flash, make_response, render_template, request
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from review.auth import allow
from review.context import db, now
from review.digest.build import iso_week, week_bounds
from review.digest.chart import new_figure, plain_text, png_bytes, short_label
from review.digest.routes import place_label, place_name
from review.digest.sources import SourceActivity, source_activity
from review.labels import class_label
from review.views.sources import run_numbers
from storage.cases import count_new_cases
from storage.crawls import crawl_runs_between
from storage.routes import weekly_carrier_counts, weekly_route_counts
from storage.sources import SourceOverview, source_overviews
from storage.substances import (
    WeeklyCounts,
    first_listings_of_candidates,
    first_listings_of_substances,
    first_seen_substances,
    new_lexicon_candidates,
    weekly_class_counts,
    weekly_substance_counts,
)

bp = Blueprint("trends", __name__)

# Whoever may read the queue may read what it adds up to.
TRENDS_ROLES = ("analyst", "legal")
DEFAULT_WEEKS = 8
MAX_WEEKS = 52
# Lines the chart can still tell apart; the tables have every class.
CHART_CLASSES = 8
# Tick labels the chart's week axis keeps readable.
MAX_WEEK_TICKS = 13
FIRST_LISTINGS = 3
MAX_CANDIDATES = 50
# Routes the page lists, the most shown first (a few hundred country pairs at most in practice).
MAX_ROUTES = 100
# matplotlib is not thread-safe (its font and text caches are shared): one drawing at a time.
_DRAWING = threading.Lock()


@dataclass(frozen=True, slots=True)
class Week:
    """One ISO week of the page: its name, its bounds in UTC, and whether it is still going."""

    name: str
    start: datetime
    end: datetime
    current: bool


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source as the trends page shows it: its last run, and its runs of the weeks shown."""

    overview: SourceOverview
    last_run: dict[str, int]
    activity: SourceActivity | None


def weeks_asked(text: str | None) -> tuple[int, str]:
    """Return the number of weeks a ``weeks`` value asks for, and what was wrong with it ("" when
    nothing was): a value that is no whole number from 1 to MAX_WEEKS gives the default."""
    if text is None or text == "":
        return DEFAULT_WEEKS, ""
    # Leading zeros dropped before int(): a number of thousands of digits is refused unread.
    digits = text.lstrip("0")
    if text.isascii() and text.isdigit() and 0 < len(digits) <= 2 and int(digits) <= MAX_WEEKS:
        return int(digits), ""
    return DEFAULT_WEEKS, (
        f"Weeks are a whole number from 1 to {MAX_WEEKS}, not {text[:40]!r}; "
        f"showing the last {DEFAULT_WEEKS}."
    )


def last_weeks(moment: datetime, count: int) -> list[Week]:
    """Return the ``count`` ISO weeks up to the one of ``moment``, oldest first."""
    this_week, _end = week_bounds(iso_week(moment))
    starts = [this_week - timedelta(days=7 * n) for n in range(count - 1, -1, -1)]
    return [
        Week(iso_week(start), start, start + timedelta(days=7), start == this_week)
        for start in starts
    ]


def bounds_of(weeks: Sequence[Week]) -> list[datetime]:
    """Return the first moment of each week and the end of the last one."""
    return [week.start for week in weeks] + [weeks[-1].end]


def _weeks() -> tuple[list[Week], str]:
    count, problem = weeks_asked(request.args.get("weeks"))
    return last_weeks(now(), count), problem


@bp.get("/trends")
@allow(*TRENDS_ROLES)
def index() -> Response:
    """Show substances, classes and routes by week, what was first seen, and the sources'
    health."""
    weeks, problem = _weeks()
    if problem:
        flash(problem, "error")
    session = db()
    bounds = bounds_of(weeks)
    start, end = bounds[0], bounds[-1]
    new_substances = first_seen_substances(session, start=start, end=end)
    candidates, candidates_total = new_lexicon_candidates(
        session, start=start, end=end, limit=MAX_CANDIDATES
    )
    routes = weekly_route_counts(session, bounds=bounds)
    page = render_template(
        "trends.html",
        weeks=weeks,
        count=len(weeks),
        max_weeks=MAX_WEEKS,
        cases_opened=[count_new_cases(session, start=w.start, end=w.end) for w in weeks],
        classes=weekly_class_counts(session, bounds=bounds),
        substances=weekly_substance_counts(session, bounds=bounds),
        new_substances=new_substances,
        substance_listings=first_listings_of_substances(
            session, [s.concept_id for s in new_substances], limit=FIRST_LISTINGS
        ),
        candidates=candidates,
        candidates_total=candidates_total,
        candidate_listings=first_listings_of_candidates(
            session, [c.term for c in candidates], limit=FIRST_LISTINGS
        ),
        sources=source_health(session, start=start, end=end),
        chart_classes=CHART_CLASSES,
        routes=routes[:MAX_ROUTES],
        routes_total=len(routes),
        carriers=weekly_carrier_counts(session, bounds=bounds),
        place_name=place_name,
        place_label=place_label,
    )
    return make_response(page, 400 if problem else 200)


@bp.get("/trends/chart.png")
@allow(*TRENDS_ROLES)
def chart() -> Response:
    """Serve the chart of the trends page: new listings and cases per week, by class."""
    weeks, problem = _weeks()
    if problem:
        abort(400, description=problem)
    classes = weekly_class_counts(db(), bounds=bounds_of(weeks))
    with _DRAWING:
        png = weekly_chart([w.name for w in weeks], classes)
    return Response(png, mimetype="image/png")


def source_health(session: Session, *, start: datetime, end: datetime) -> list[SourceHealth]:
    """Return every source with its last run's numbers and its runs started in ``[start, end)``."""
    activity = {
        a.source_id: a
        for a in source_activity(session, crawl_runs_between(session, start=start, end=end))
    }
    return [
        SourceHealth(
            overview=overview,
            last_run=run_numbers(overview.last_run.stats or {}) if overview.last_run else {},
            activity=activity.get(overview.source.id),
        )
        for overview in source_overviews(session)
    ]


def weekly_chart(weeks: Sequence[str], classes: Sequence[WeeklyCounts]) -> bytes:
    """Return a PNG of two panels, new listings on offer and new cases per week, one line per
    class (the CHART_CLASSES most offered); weeks with nothing say so."""
    figure = new_figure(7.2, 5.2)
    listings_axes, cases_axes = figure.subplots(2, 1, sharex=True)
    positions = list(range(len(weeks)))
    shown = classes[:CHART_CLASSES]
    for counts in shown:
        label = short_label(class_label(counts.name))
        (line,) = listings_axes.plot(positions, counts.listings, marker="o", label=label)
        cases_axes.plot(positions, counts.cases, marker="o", color=line.get_color())
    panels: tuple[tuple[Axes, str, Callable[[WeeklyCounts], tuple[int, ...]]], ...] = (
        (listings_axes, "new listings on offer", lambda c: c.listings),
        (cases_axes, "new cases", lambda c: c.cases),
    )
    for axes, what, numbers in panels:
        peak = max((max(numbers(c)) for c in shown), default=0)
        axes.set_ylabel(what)
        axes.set_ylim(0, max(1, peak) * 1.15)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.spines[["top", "right"]].set_visible(False)
        axes.grid(axis="y", color="#e5e7eb")
    if not shown:
        listings_axes.text(
            0.5,
            0.5,
            "nothing on offer in these weeks",
            transform=listings_axes.transAxes,
            ha="center",
            va="center",
            color="#6b7280",
        )
    step = max(1, ceil(len(weeks) / MAX_WEEK_TICKS))
    ticks = positions[::step]
    cases_axes.set_xticks(ticks, labels=[weeks[p].split("-")[-1] for p in ticks])
    cases_axes.set_xlim(-0.5, len(weeks) - 0.5)
    cases_axes.set_xlabel(f"ISO week (UTC), {weeks[0]} to {weeks[-1]}")
    if shown:
        legend = figure.legend(
            loc="outside upper center", ncols=min(4, len(shown)), frameon=False, fontsize="small"
        )
        plain_text(legend.get_texts())
    return png_bytes(figure)
