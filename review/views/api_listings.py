"""The API's cases and listings (routes in ``review.views.api``): cases with the queue's filters
and order, one case as the JSON export has it, listings with the listings page's filters, one
listing.

A case's filters are the queue's (``storage.cases.CaseFilter``), with the API's defaults: every
state unless ``state`` says one, and days in UTC. A search writes its ``search`` audit row too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from review.context import db
from review.exports import case_record, prices, seller_identifiers, version_substances
from review.invisible import visible_text
from review.views.api_requests import (
    PAGING,
    Answer,
    Parameters,
    Refusal,
    audited_search,
    bad,
    case_tag,
    iso,
    owner,
    page_of,
    substance_tags,
)
from review.views.listings import CASE_CHOICES, FLAG_CHOICES
from review.views.queue import DIRECTIONS, FIRST_DIRECTION
from storage.cases import (
    SORT_KEYS,
    CaseFilter,
    cases_by_id,
    cases_with_details,
    count_queue,
    queue_page,
)
from storage.clusters import cluster_of_listing
from storage.listing_search import ListingFilter, count_listings, listings_page
from storage.listings import get_listing
from storage.models import CASE_STATES, ListingVersion
from storage.seller_pages import sellers_of_listing
from storage.sources import source_names
from storage.substances import substance_classes
from storage.users import get_user

ALL_STATES = "all"
CASE_PARAMETERS = (
    "state", "class", "source", "since", "until", "assignee", "search", "sort", "dir", *PAGING,
)  # fmt: skip
LISTING_PARAMETERS = ("source", "flag", "case", "q", "search", *PAGING)


def version_record(version: ListingVersion) -> dict[str, Any]:
    """Return a listing version as a case of the JSON export shows its listing's latest."""
    seller = version.fields.get("seller")
    return {
        "version_id": version.id,
        "created_at": iso(version.created_at),
        "title": visible_text(version.title),
        "title_raw": version.title,
        "text": version.text,
        "fields": version.fields,
        "score": version.score,
        "offer": version.offer,
        "seller": {
            "name": seller if isinstance(seller, str) else None,
            **seller_identifiers(version),
        },
        "prices": prices(version),
        "reasons": version.reasons,
        "substances": version_substances(version),
        "indicators": [
            {
                "kind": i.kind,
                "value": i.value,
                "text": i.text,
                "start": i.start,
                "end": i.end,
                "key": i.key,
            }
            for i in version.indicators
        ],
        "evidence": {
            "capture_id": version.capture.id,
            "url": version.capture.url,
            "fetched_at": iso(version.capture.fetched_at),
            "payload_sha256": version.capture.payload_sha256,
        },
    }


def _links(listing_id: int) -> dict[str, Any]:
    session = db()
    return {
        "cluster_id": cluster_of_listing(session, listing_id),
        "seller_ids": [seller.id for seller in sellers_of_listing(session, listing_id)],
    }


# ---------------------------------------------------------------- cases


def _utc_day(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def cases() -> Answer:
    """List the cases the queue's filters select, in the queue's order, a page at a time."""
    params = Parameters(CASE_PARAMETERS)
    session = db()
    state = params.choice("state", (*CASE_STATES, ALL_STATES), "case state") or ALL_STATES
    substance_class = params.choice("class", substance_classes(session), "substance class")
    sources = {source_id for source_id, _name in source_names(session)}
    source_id = params.choice("source", sources, "source")
    since, until = params.day("since"), params.day("until")
    if since and until and since > until:
        raise bad(f"since ({since}) is after until ({until})")
    assignee = params.text("assignee", 64)
    assignee_id: int | None = None
    if assignee == "me":
        assignee_id = owner().id
    elif assignee and assignee != "none":
        found = get_user(session, assignee)
        if found is None:
            raise bad(f"there is no user {assignee!r} (assignee)")
        assignee_id = found.id
    search = params.search()
    sort = params.choice("sort", SORT_KEYS, "column to sort by") or "score"
    direction = params.choice("dir", DIRECTIONS, "sort direction")
    page, limit = params.paging()
    filters = CaseFilter(
        state=None if state == ALL_STATES else state,
        substance_class=substance_class,
        source_id=source_id,
        since=_utc_day(since) if since else None,
        until=_utc_day(until + timedelta(days=1)) if until else None,
        assignee_id=assignee_id,
        unassigned=assignee == "none",
        search=search,
        sort=sort,
        descending=DIRECTIONS[direction or FIRST_DIRECTION.get(sort, "asc")],
    )
    total = count_queue(session, filters)
    summaries = queue_page(session, filters, limit=limit, offset=(page - 1) * limit)
    by_id = cases_by_id(session, [s.case_id for s in summaries])
    audited_search(search, "api.cases", total)
    items = [
        {
            "case_id": s.case_id,
            "state": s.state,
            "score": s.score,
            "title": visible_text(s.title),
            "title_raw": s.title,
            "url": s.url,
            "listing_id": by_id[s.case_id].listing_id,
            "source": {"id": s.source_id, "name": s.source_name},
            "assignee": s.assignee,
            "substances": substance_tags(s.substances),
            "first_seen": iso(s.first_seen),
            "created_at": iso(s.created_at),
            "updated_at": iso(by_id[s.case_id].updated_at),
        }
        for s in summaries
        if s.case_id in by_id
    ]
    return page_of(items, page=page, limit=limit, total=total)


def case(case_id: int) -> Answer:
    """Show one case as the JSON export has it, with its cluster and sellers."""
    Parameters(())
    found = cases_with_details(db(), [case_id])
    if not found:
        raise Refusal(404, f"there is no case {case_id}")
    record = case_record(found[0])
    return Answer(record | _links(found[0].listing_id), 1)


# ---------------------------------------------------------------- listings


def listings() -> Answer:
    """List every listing the filters select, flagged or not, highest latest score first."""
    params = Parameters(LISTING_PARAMETERS)
    session = db()
    sources = {source_id for source_id, _name in source_names(session)}
    source_id = params.choice("source", sources, "source")
    flag = params.choice("flag", [k for k in FLAG_CHOICES if k], "flag choice") or ""
    with_case = params.choice("case", [k for k in CASE_CHOICES if k], "case choice") or ""
    text = params.text("q")
    search = params.search()
    page, limit = params.paging()
    filters = ListingFilter(
        source_id=source_id,
        flagged=FLAG_CHOICES[flag],
        has_case=CASE_CHOICES[with_case],
        text=text or None,
        search=search,
    )
    total = count_listings(session, filters)
    rows = listings_page(session, filters, limit=limit, offset=(page - 1) * limit)
    audited_search(search, "api.listings", total)
    items = []
    for row in rows:
        listing = get_listing(session, row.listing_id)
        assert listing is not None  # the page just read it
        items.append(
            {
                "listing_id": row.listing_id,
                "title": visible_text(row.title),
                "title_raw": row.title,
                "url": row.url,
                "source": {"id": listing.source_id, "name": row.source_name},
                "score": row.score,
                "flagged": row.flagged,
                "substances": substance_tags(row.substances),
                "first_seen": iso(row.first_seen),
                "last_seen": iso(row.last_seen),
                "gone_at": iso(row.gone_at),
                "case": case_tag(row.case_id, row.case_state),
            }
        )
    return page_of(items, page=page, limit=limit, total=total)


def listing(listing_id: int) -> Answer:
    """Show one listing: its latest version as a case's, its versions, case, cluster, sellers."""
    Parameters(())
    found = get_listing(db(), listing_id)
    if found is None or not found.versions:
        raise Refusal(404, f"there is no listing {listing_id}")
    own_case = found.case
    document = {
        "listing_id": found.id,
        "url": found.url,
        "source": {"id": found.source_id, "name": found.source.name},
        "first_seen": iso(found.first_seen),
        "last_seen": iso(found.last_seen),
        "gone_at": iso(found.gone_at),
        "case": (
            {"case_id": own_case.id, "state": own_case.state, "score": own_case.score}
            if own_case is not None
            else None
        ),
        "latest": version_record(found.versions[-1]),
        "versions": [
            {
                "version_id": version.id,
                "created_at": iso(version.created_at),
                "title_raw": version.title,
                "score": version.score,
                "offer": version.offer,
                "text_sha256": version.text_sha256,
                "payload_sha256": version.capture.payload_sha256,
            }
            for version in found.versions
        ],
    }
    return Answer(document | _links(found.id), 1)
