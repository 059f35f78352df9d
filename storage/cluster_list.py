"""Clusters of near-duplicates a page at a time, most recently changed first (the JSON API's
list; a cluster's own page is ``storage.cluster_queue.cluster_view``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from storage.models import Case, Cluster, ClusterMember, Listing


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """A cluster in a list: its listings, the sources they are on and their cases, counted."""

    cluster_id: int
    created_at: datetime
    updated_at: datetime
    listings: int
    sources: int
    cases: int


def cluster_summaries(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[ClusterSummary], int]:
    """Return a page of the clusters that hold a listing (newest change first) and how many
    such clusters there are; a cluster every listing was split from is left out."""
    total = session.scalar(select(func.count(distinct(ClusterMember.cluster_id)))) or 0
    query = (
        select(
            Cluster.id,
            Cluster.created_at,
            Cluster.updated_at,
            func.count(distinct(ClusterMember.listing_id)),
            func.count(distinct(Listing.source_id)),
            func.count(distinct(Case.id)),
        )
        .join(ClusterMember, ClusterMember.cluster_id == Cluster.id)
        .join(Listing, ClusterMember.listing_id == Listing.id)
        .outerjoin(Case, Case.listing_id == Listing.id)
        .group_by(Cluster.id, Cluster.created_at, Cluster.updated_at)
        .order_by(Cluster.updated_at.desc(), Cluster.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [ClusterSummary(*row) for row in session.execute(query)], total
