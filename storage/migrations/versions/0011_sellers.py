"""sellers

Adds ``sellers`` (listings linked by the identifiers they share), ``seller_identifiers`` (each
identifier key: its seller, or that it is common) and ``seller_changes`` (analysts' merges and
splits, and their undo), then links the listings already stored as ``storage.sellers`` links
new ones: identifiers read in one listing belong to one seller, values carried by more than
the limit of unrelated listings (``SYNTHWATCH_SELLER_COMMON_LISTINGS``, of at least
``SYNTHWATCH_SELLER_COMMON_SOURCES`` sources) are common and link nothing. The backfill is
written here, apart from ``storage.sellers``, so that this migration keeps working whatever the
models become.

Revision ID: 0011_sellers
Revises: 0010
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from storage.sellers import CommonLimits

revision = "0011_sellers"
down_revision = "0010"
branch_labels = None
depends_on = None

_indicators = sa.table(
    "indicators", sa.column("version_id", sa.Integer), sa.column("key", sa.String)
)
_versions = sa.table(
    "listing_versions",
    sa.column("id", sa.Integer),
    sa.column("listing_id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_listings = sa.table("listings", sa.column("id", sa.Integer), sa.column("source_id", sa.String))
_sellers = sa.table(
    "sellers",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_identifiers = sa.table(
    "seller_identifiers",
    sa.column("key", sa.String),
    sa.column("seller_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("first_seen", sa.DateTime(timezone=True)),
    sa.column("excluded_at", sa.DateTime(timezone=True)),
    sa.column("excluded_listings", sa.Integer),
    sa.column("excluded_sources", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "sellers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["sellers.id"], name=op.f("fk_sellers_merged_into_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sellers")),
    )
    op.create_index(op.f("ix_sellers_merged_into_id"), "sellers", ["merged_into_id"])
    op.create_table(
        "seller_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("excluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("excluded_listings", sa.Integer(), nullable=True),
        sa.Column("excluded_sources", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_seller_identifiers_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_identifiers")),
        sa.UniqueConstraint("key", name=op.f("uq_seller_identifiers_key")),
    )
    op.create_index(op.f("ix_seller_identifiers_seller_id"), "seller_identifiers", ["seller_id"])
    op.create_table(
        "seller_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("other_seller_id", sa.Integer(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_seller_changes_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["other_seller_id"],
            ["sellers.id"],
            name=op.f("fk_seller_changes_other_seller_id_sellers"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_seller_changes_seller_id_sellers")
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"], ["users.id"], name=op.f("fk_seller_changes_undone_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_changes")),
    )
    op.create_index(op.f("ix_seller_changes_seller_id"), "seller_changes", ["seller_id"])
    op.create_index(
        op.f("ix_seller_changes_other_seller_id"), "seller_changes", ["other_seller_id"]
    )
    _backfill(op.get_bind(), CommonLimits.from_env())


def _backfill(connection: sa.Connection, limits: CommonLimits) -> None:
    """Link the stored listings into sellers, in the order their versions were stored."""
    rows = connection.execute(
        sa.select(_versions.c.listing_id, _listings.c.source_id, _indicators.c.key)
        .add_columns(_versions.c.created_at)
        .join(_versions, _indicators.c.version_id == _versions.c.id)
        .join(_listings, _versions.c.listing_id == _listings.c.id)
        .where(_indicators.c.key.is_not(None))
        .order_by(_versions.c.id)
    )
    keys_of: dict[int, dict[str, None]] = defaultdict(dict)
    carriers: dict[str, set[int]] = defaultdict(set)
    sources: dict[str, set[str]] = defaultdict(set)
    first_seen: dict[str, datetime] = {}
    for listing_id, source_id, key, created_at in rows:
        keys_of[listing_id][key] = None
        carriers[key].add(listing_id)
        sources[key].add(source_id)
        first_seen.setdefault(key, created_at)
    if not first_seen:
        return
    common: dict[str, tuple[int, int]] = {}
    for key, listings in carriers.items():
        if len(listings) > limits.listings and len(sources[key]) >= limits.sources:
            unrelated = _unrelated(key, listings, keys_of, set(common))
            if unrelated > limits.listings:
                common[key] = (unrelated, len(sources[key]))
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for keys in keys_of.values():
        linked = [k for k in keys if k not in common]
        for key in linked:
            parent[find(key)] = find(linked[0])
    groups: dict[str, list[str]] = defaultdict(list)
    for key in first_seen:  # in the order first seen
        if key not in common:
            groups[find(key)].append(key)
    for members in sorted(groups.values(), key=lambda ks: first_seen[ks[0]]):
        seller_id = connection.execute(
            sa.insert(_sellers)
            .values(name=members[0], created_at=first_seen[members[0]])
            .returning(_sellers.c.id)
        ).scalar_one()
        connection.execute(
            sa.insert(_identifiers),
            [
                {"key": k, "seller_id": seller_id, "status": "linked", "first_seen": first_seen[k]}
                for k in members
            ],
        )
    if common:
        connection.execute(
            sa.insert(_identifiers),
            [
                {
                    "key": key,
                    "seller_id": None,
                    "status": "common",
                    "first_seen": first_seen[key],
                    "excluded_at": first_seen[key],
                    "excluded_listings": unrelated,
                    "excluded_sources": n_sources,
                }
                for key, (unrelated, n_sources) in common.items()
            ],
        )


def _unrelated(
    key: str, listings: set[int], keys_of: dict[int, dict[str, None]], common: set[str]
) -> int:
    """Count groups of the listings carrying ``key`` linked by their other identifiers."""
    parent: dict[object, object] = {}

    def find(node: object) -> object:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for listing_id in listings:
        for other in keys_of[listing_id]:
            if other != key and other not in common:
                parent[find(("listing", listing_id))] = find(other)
    return len({find(n) for n in list(parent) if isinstance(n, tuple)})


def downgrade() -> None:
    op.drop_index(op.f("ix_seller_changes_other_seller_id"), table_name="seller_changes")
    op.drop_index(op.f("ix_seller_changes_seller_id"), table_name="seller_changes")
    op.drop_table("seller_changes")
    op.drop_index(op.f("ix_seller_identifiers_seller_id"), table_name="seller_identifiers")
    op.drop_table("seller_identifiers")
    op.drop_index(op.f("ix_sellers_merged_into_id"), table_name="sellers")
    op.drop_table("sellers")
