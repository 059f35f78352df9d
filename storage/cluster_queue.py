"""The queue folded by cluster: one row per cluster of near-duplicates, and a cluster's page.

A queue row stands for a cluster's cases that the filter selects: the first of them in the
queue's order represents them, with their count; a case outside any cluster is a row of its
own. Built on ``storage.cases``' filter and order (its module-private query builders, so the
folded queue can never select or sort differently from the plain one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.cases import (
    CaseFilter,
    CaseSummary,
    assignee_names,
    filtered_cases,
    sort_column,
    summaries_of,
    summary_query,
)
from storage.clusters import cluster_sizes
from storage.listings import latest_version_id
from storage.models import Case, Cluster, ClusterMember, Listing, ListingVersion, Source
from storage.substances import SubstanceTag, substances_of_versions


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A row of the folded queue: a case, and the cluster it stands for (if any)."""

    summary: CaseSummary
    cluster_id: int | None = None
    # The cases of the cluster the filter selects, this row's first.
    case_ids: tuple[int, ...] = ()
    size: int = 1  # listings in the whole cluster

    @property
    def folded(self) -> bool:
        """Say whether the row stands for more than its own case."""
        return self.cluster_id is not None and self.size > 1


def _order(filters: CaseFilter) -> list[Any]:
    column = sort_column(filters.sort)
    first = (column.desc() if filters.descending else column.asc()).nulls_last()
    return [first, Case.score.desc(), Case.id]


def _group() -> Any:
    # Cluster ids negated, so they never meet the case id of a case in no cluster.
    return func.coalesce(-ClusterMember.cluster_id, Case.id)


def count_folded_queue(session: Session, filters: CaseFilter) -> int:
    """Count the rows of the folded queue a filter selects."""
    query = filtered_cases(
        select(func.count(func.distinct(_group())))
        .select_from(Case)
        .join(Listing, Case.listing_id == Listing.id)
        .outerjoin(ClusterMember, ClusterMember.listing_id == Listing.id),
        filters,
    )
    return session.scalar(query) or 0


def folded_queue_page(
    session: Session, filters: CaseFilter, *, limit: int = 50, offset: int = 0
) -> list[QueueRow]:
    """Return one page of the folded queue, in the filter's order."""
    order = _order(filters)
    ranked = filtered_cases(
        select(
            Case.id.label("case_id"),
            ClusterMember.cluster_id.label("cluster_id"),
            func.row_number().over(partition_by=_group(), order_by=order).label("rank"),
            func.row_number().over(order_by=order).label("position"),
        )
        .join(Listing, Case.listing_id == Listing.id)
        .outerjoin(ClusterMember, ClusterMember.listing_id == Listing.id),
        filters,
    ).subquery()
    page = session.execute(
        select(ranked.c.case_id, ranked.c.cluster_id)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.position)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [case_id for case_id, _ in page]
    summaries = {
        s.case_id: s for s in summaries_of(session, summary_query().where(Case.id.in_(ids)))
    }
    names = assignee_names(session, ids)
    clusters = [cluster_id for _, cluster_id in page if cluster_id is not None]
    in_view: dict[int, list[int]] = {}
    if clusters:
        query = filtered_cases(
            select(ClusterMember.cluster_id, Case.id)
            .join(Listing, ClusterMember.listing_id == Listing.id)
            .join(Case, Case.listing_id == Listing.id)
            .where(ClusterMember.cluster_id.in_(clusters)),
            filters,
        ).order_by(*order)
        for cluster_id, case_id in session.execute(query):
            in_view.setdefault(cluster_id, []).append(case_id)
    sizes = cluster_sizes(session, clusters)
    return [
        QueueRow(
            summary=replace(summaries[case_id], assignee=names.get(case_id)),
            cluster_id=cluster_id,
            case_ids=tuple(in_view.get(cluster_id, [case_id])) if cluster_id else (case_id,),
            size=sizes.get(cluster_id, 1) if cluster_id else 1,
        )
        for case_id, cluster_id in page
        if case_id in summaries
    ]


@dataclass(frozen=True, slots=True)
class ClusterListing:
    """A listing of a cluster, as its page shows it."""

    listing_id: int
    title: str
    url: str
    source_name: str
    similarity: float
    joined_at: datetime
    substances: tuple[SubstanceTag, ...]
    case_id: int | None
    state: str | None
    score: float | None


@dataclass(frozen=True, slots=True)
class ClusterView:
    """A cluster with its listings, highest case score first."""

    cluster_id: int
    created_at: datetime
    updated_at: datetime
    listings: tuple[ClusterListing, ...]

    @property
    def sources(self) -> int:
        return len({listing.source_name for listing in self.listings})


def cluster_view(session: Session, cluster_id: int) -> ClusterView | None:
    """Return a cluster and its listings, or None when there is no such cluster."""
    cluster = session.get(Cluster, cluster_id)
    if cluster is None:
        return None
    query = (
        select(ClusterMember, Listing, Source.name, ListingVersion, Case)
        .join(Listing, ClusterMember.listing_id == Listing.id)
        .join(Source, Listing.source_id == Source.id)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
        .outerjoin(Case, Case.listing_id == Listing.id)
        .where(ClusterMember.cluster_id == cluster_id)
        .order_by(Case.score.desc().nulls_last(), Listing.id)
    )
    rows = session.execute(query).all()
    tags = substances_of_versions(session, [version.id for _m, _l, _s, version, _c in rows])
    listings = tuple(
        ClusterListing(
            listing_id=listing.id,
            title=version.title,
            url=listing.url,
            source_name=source_name,
            similarity=member.similarity,
            joined_at=member.joined_at,
            substances=tags.get(version.id, ()),
            case_id=case.id if case else None,
            state=case.state if case else None,
            score=case.score if case else None,
        )
        for member, listing, source_name, version, case in rows
    )
    return ClusterView(cluster.id, cluster.created_at, cluster.updated_at, listings)
