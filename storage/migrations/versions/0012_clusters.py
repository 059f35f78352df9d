"""near-duplicate clusters

Adds the MinHash index of listing versions (``cluster_signatures`` and its LSH bands,
``cluster_bands``), the clusters of near-identical listings (``clusters``, ``cluster_members``)
and the splits analysts made (``cluster_splits``). Nothing existing changes; versions stored
before this migration are signed when the next crawl run ends (``storage.clusters``).

Revision ID: 0012_clusters
Revises: 0011_sellers
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_clusters"
down_revision = "0011_sellers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_signatures",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.SmallInteger(), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("shingles", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_cluster_signatures_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["listing_versions.id"],
            name=op.f("fk_cluster_signatures_version_id_listing_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_cluster_signatures")),
    )
    op.create_index(op.f("ix_cluster_signatures_listing_id"), "cluster_signatures", ["listing_id"])
    op.create_table(
        "cluster_bands",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["cluster_signatures.version_id"],
            name=op.f("fk_cluster_bands_version_id_cluster_signatures"),
        ),
        sa.PrimaryKeyConstraint("version_id", "band", name=op.f("pk_cluster_bands")),
    )
    op.create_index("ix_cluster_bands_bucket", "cluster_bands", ["bucket"])
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
    )
    op.create_table(
        "cluster_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_cluster_members_cluster_id_clusters")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_cluster_members_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["listing_versions.id"],
            name=op.f("fk_cluster_members_version_id_listing_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_members")),
        sa.UniqueConstraint("listing_id", name=op.f("uq_cluster_members_listing_id")),
    )
    op.create_index(op.f("ix_cluster_members_cluster_id"), "cluster_members", ["cluster_id"])
    op.create_table(
        "cluster_splits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_cluster_splits_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_cluster_splits_cluster_id_clusters")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_cluster_splits_listing_id_listings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_splits")),
        sa.UniqueConstraint("cluster_id", "listing_id", name=op.f("uq_cluster_splits_cluster_id")),
    )
    op.create_index(op.f("ix_cluster_splits_cluster_id"), "cluster_splits", ["cluster_id"])
    op.create_index(op.f("ix_cluster_splits_listing_id"), "cluster_splits", ["listing_id"])


def downgrade() -> None:
    op.drop_table("cluster_splits")
    op.drop_table("cluster_members")
    op.drop_table("clusters")
    op.drop_table("cluster_bands")
    op.drop_table("cluster_signatures")
