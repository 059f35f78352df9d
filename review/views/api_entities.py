"""The API's sellers, clusters of near-duplicates and trends (routes in ``review.views.api``).

A seller merged into another is a 404 naming the one it went into (``merged_into``). Trends are
the trends page's numbers (``review.views.trends``: ISO weeks in UTC, ``weeks`` of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from review.context import db, now
from review.labels import class_label
from review.views.api_requests import (
    PAGING,
    Answer,
    Parameters,
    Refusal,
    bad,
    case_tag,
    iso,
    page_of,
    substance_tags,
)
from review.views.trends import SourceHealth, bounds_of, last_weeks, source_health, weeks_asked
from storage.cases import count_new_cases
from storage.cluster_list import cluster_summaries
from storage.cluster_queue import cluster_view
from storage.models import Seller
from storage.seller_pages import seller_profile, seller_summaries
from storage.sellers import active_seller
from storage.substances import (
    first_listings_of_candidates,
    first_listings_of_substances,
    first_seen_substances,
    new_lexicon_candidates,
    weekly_class_counts,
    weekly_substance_counts,
)

SELLER_PARAMETERS = ("q", *PAGING)
MAX_CANDIDATES = 50
FIRST_LISTINGS = 3


# ---------------------------------------------------------------- sellers


def sellers() -> Answer:
    """List the sellers, newest first; ``q`` keeps those with an identifier containing it."""
    params = Parameters(SELLER_PARAMETERS)
    search = params.text("q")
    page, limit = params.paging()
    summaries, total = seller_summaries(db(), search=search, page=page, page_size=limit)
    items = [
        {
            "seller_id": s.seller.id,
            "name": s.seller.name,
            "created_at": iso(s.seller.created_at),
            "identifiers": list(s.identifiers),
            "listings": s.listings,
            "sources": s.sources,
            "cases": s.cases,
            "first_seen": iso(s.first_seen),
            "last_seen": iso(s.last_seen),
        }
        for s in summaries
    ]
    return page_of(items, page=page, limit=limit, total=total)


def seller(seller_id: int) -> Answer:
    """Show a seller: identifiers, sources, listings and cases, substances, timeline, changes."""
    Parameters(())
    session = db()
    found = session.get(Seller, seller_id)
    if found is None:
        raise Refusal(404, f"there is no seller {seller_id}")
    if found.merged_into_id is not None:
        current = active_seller(session, seller_id)
        into = current.id if current is not None else None
        raise Refusal(404, f"seller {seller_id} was merged into another", merged_into=into)
    profile = seller_profile(session, found)
    document = {
        "seller_id": found.id,
        "name": found.name,
        "created_at": iso(found.created_at),
        "identifiers": [
            {"key": i.key, "status": i.status, "listings": i.listings} for i in profile.identifiers
        ],
        "sources": [
            {"id": source_id, "name": name, "listings": count}
            for source_id, name, count in profile.sources
        ],
        "listings": [
            {
                "listing_id": item.listing_id,
                "title_raw": item.title,
                "url": item.url,
                "source_id": item.source_id,
                "score": item.score,
                "offer": item.offer,
                "first_seen": iso(item.first_seen),
                "last_seen": iso(item.last_seen),
                "gone_at": iso(item.gone_at),
                "case": case_tag(item.case_id, item.case_state),
                "keys": list(item.keys),
            }
            for item in profile.listings
        ],
        "substances": [
            {
                "concept_id": s.concept_id,
                "name": s.name,
                "class": s.substance_class,
                "listings": s.listings,
            }
            for s in profile.substances
        ],
        "first_seen": iso(profile.first_seen),
        "last_seen": iso(profile.last_seen),
        "timeline": [
            {
                "at": iso(entry.at),
                "what": entry.what,
                "text": entry.text,
                "listing_id": entry.listing_id,
                "case_id": entry.case_id,
            }
            for entry in profile.timeline
        ],
    }
    return Answer(document, 1)


# ---------------------------------------------------------------- clusters


def clusters() -> Answer:
    """List the clusters of near-duplicates, most recently changed first."""
    page, limit = Parameters(PAGING).paging()
    summaries, total = cluster_summaries(db(), limit=limit, offset=(page - 1) * limit)
    items = [
        {
            "cluster_id": c.cluster_id,
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
            "listings": c.listings,
            "sources": c.sources,
            "cases": c.cases,
        }
        for c in summaries
    ]
    return page_of(items, page=page, limit=limit, total=total)


def cluster(cluster_id: int) -> Answer:
    """Show a cluster and its listings, with their cases, highest case score first."""
    Parameters(())
    view = cluster_view(db(), cluster_id)
    if view is None:
        raise Refusal(404, f"there is no cluster {cluster_id}")
    document = {
        "cluster_id": view.cluster_id,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
        "sources": view.sources,
        "listings": [
            {
                "listing_id": item.listing_id,
                "title_raw": item.title,
                "url": item.url,
                "source_name": item.source_name,
                "similarity": item.similarity,
                "joined_at": iso(item.joined_at),
                "substances": substance_tags(item.substances),
                "case": (
                    {"case_id": item.case_id, "state": item.state, "score": item.score}
                    if item.case_id is not None
                    else None
                ),
            }
            for item in view.listings
        ],
    }
    return Answer(document, len(view.listings))


# ---------------------------------------------------------------- trends


def trends() -> Answer:
    """Return what the trends page shows: substances and classes by week, what is new, sources."""
    params = Parameters(("weeks",))
    count, problem = weeks_asked(params.args.get("weeks"))
    if problem:
        raise bad(problem.split(";")[0])
    session = db()
    weeks = last_weeks(now(), count)
    bounds = bounds_of(weeks)
    start, end = bounds[0], bounds[-1]
    new_substances = first_seen_substances(session, start=start, end=end)
    substance_firsts = first_listings_of_substances(
        session, [s.concept_id for s in new_substances], limit=FIRST_LISTINGS
    )
    candidates, candidates_total = new_lexicon_candidates(
        session, start=start, end=end, limit=MAX_CANDIDATES
    )
    candidate_firsts = first_listings_of_candidates(
        session, [c.term for c in candidates], limit=FIRST_LISTINGS
    )
    opened = [count_new_cases(session, start=week.start, end=week.end) for week in weeks]
    document = {
        "weeks": [
            {
                "week": week.name,
                "start": iso(week.start),
                "end": iso(week.end),
                "current": week.current,
                "cases_opened": cases_opened,
            }
            for week, cases_opened in zip(weeks, opened, strict=True)
        ],
        "classes": [
            {
                "class": c.key,
                "class_label": class_label(c.key),
                "listings": list(c.listings),
                "cases": list(c.cases),
            }
            for c in weekly_class_counts(session, bounds=bounds)
        ],
        "substances": [
            {
                "concept_id": s.key,
                "name": s.name,
                "class": s.substance_class,
                "listings": list(s.listings),
                "cases": list(s.cases),
            }
            for s in weekly_substance_counts(session, bounds=bounds)
        ],
        "new_substances": [
            {
                "concept_id": s.concept_id,
                "name": s.name,
                "class": s.substance_class,
                "offers": s.offers,
                "mentions": s.mentions,
                "first_listings": _first_listings(substance_firsts.get(s.concept_id, ())),
            }
            for s in new_substances
        ],
        "candidates": {
            "total": candidates_total,
            "shown": [
                {
                    "term": c.term,
                    "count": c.count,
                    "first_seen": iso(c.first_seen),
                    "status": c.status,
                    "first_listings": _first_listings(candidate_firsts.get(c.term, ())),
                }
                for c in candidates
            ],
        },
        "sources": [
            _source_health(health) for health in source_health(session, start=start, end=end)
        ],
    }
    return Answer(document, len(weeks))


def _first_listings(found: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"listing_id": f.listing_id, "title_raw": f.title, "url": f.url, "seen_at": iso(f.seen_at)}
        for f in found
    ]


def _source_health(health: SourceHealth) -> dict[str, Any]:
    overview, activity = health.overview, health.activity
    run = overview.last_run
    return {
        "source_id": overview.source.id,
        "name": overview.source.name,
        "approval_state": overview.approval_state,
        "last_run": (
            {
                "run_id": run.id,
                "status": run.status,
                "started_at": iso(run.started_at),
                "finished_at": iso(run.finished_at),
                "error": run.error,
                "numbers": health.last_run,
            }
            if run is not None
            else None
        ),
        "weeks": (
            {
                "runs": activity.runs,
                "failed_runs": activity.failed_runs,
                "interrupted_runs": activity.interrupted_runs,
                "pages": activity.pages,
                "robots": activity.robots,
                "robots_unreachable": activity.robots_unreachable,
                "blocked": activity.blocked,
                "refused": activity.refused,
                "errors": activity.error_count,
                "problems": list(activity.problem_notes),
            }
            if activity is not None
            else None
        ),
    }
