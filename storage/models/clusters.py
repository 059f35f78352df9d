"""Near-duplicates: the MinHash index of listing versions and the clusters it finds.

``storage.clusters`` alone writes these tables. A ``ClusterSignature`` is the MinHash of one
version's boilerplate-stripped text with the fields that verify a match; its ``ClusterBand``
rows are the LSH index, kept for the latest version of each listing only. A ``Cluster`` holds
listings (``ClusterMember``, one cluster at most per listing) whose latest versions are
near-identical; a ``ClusterSplit`` keeps a listing an analyst took out of a cluster out of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base

if TYPE_CHECKING:
    from storage.models.listings import Listing
    from storage.models.sources import User


class ClusterSignature(Base):
    """The MinHash of a listing version, and the extracted fields a match must agree on."""

    __tablename__ = "cluster_signatures"

    version_id: Mapped[int] = mapped_column(ForeignKey("listing_versions.id"), primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    # How the signature was made (storage.clusters.SIGNATURE_FORMAT): shingling, hash scheme.
    format: Mapped[int] = mapped_column(SmallInteger)
    # The MinHash values, little-endian uint32 each; empty when the text had too few words.
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    shingles: Mapped[int] = mapped_column(Integer)
    # {"concepts": [...], "cas": [...], "keys": [...]}: sorted, from the version's spans.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON())
    created_at: Mapped[datetime]


class ClusterBand(Base):
    """One LSH band of a signature: versions sharing (band, bucket) are match candidates."""

    __tablename__ = "cluster_bands"
    # Looked up by bucket alone: a 64-bit hash, so buckets of different bands hardly collide.
    __table_args__ = (Index("ix_cluster_bands_bucket", "bucket"),)

    version_id: Mapped[int] = mapped_column(
        ForeignKey("cluster_signatures.version_id"), primary_key=True
    )
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger)


class Cluster(Base):
    """Listings whose latest versions are near-identical, reviewed as one row of the queue."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    members: Mapped[list[ClusterMember]] = relationship(
        back_populates="cluster", order_by="ClusterMember.id"
    )


class ClusterMember(Base):
    """A listing in a cluster: the version that matched, and how similar it was."""

    __tablename__ = "cluster_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("listing_versions.id"))
    # The estimated Jaccard similarity to the member it matched (1.0 for a cluster's first).
    similarity: Mapped[float] = mapped_column(Float)
    joined_at: Mapped[datetime]

    cluster: Mapped[Cluster] = relationship(back_populates="members")
    listing: Mapped[Listing] = relationship()


class ClusterSplit(Base):
    """A listing an analyst split from a cluster: it never joins that cluster again."""

    __tablename__ = "cluster_splits"
    __table_args__ = (UniqueConstraint("cluster_id", "listing_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]

    actor: Mapped[User] = relationship()
