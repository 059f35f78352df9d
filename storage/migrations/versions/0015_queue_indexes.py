"""queue indexes: the latest version of a listing, route indicators

Adds ``ix_listing_versions_listing_latest`` on ``listing_versions (listing_id, id)``: the
queue, the listings page and every store of a crawled page find a listing's latest version as
``max(id) WHERE listing_id = ?`` (``storage.listings.latest_version_id``). SQLite's index on
``listing_id`` holds the rowid and answers that already; PostgreSQL's does not, and its planner
then walks the primary key backwards from the newest version, filtering by listing: measured
at 100,000 listings (``bench/queue_scale.py``), one filtered queue page took over a minute and
storing the listings 735 s against 46 s on SQLite. With both columns in one index the maximum
is one index probe whatever the statistics say.

Adds ``ix_indicators_route``: a partial index of the indicators of kind ``route`` (``from:CN``,
``to:US``, ``by:EMS``) on their value and version, which ``storage.routes`` reads for the trends
page and the digest. Without it each count scans every indicator, prices and contacts too; with
it, only the route indicators, in value ranges. Nothing existing changes.

Revision ID: 0015_queue_indexes
Revises: 0014_api_keys
Create Date: 2026-12-08 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_queue_indexes"
down_revision = "0014_api_keys"
branch_labels = None
depends_on = None

# Keep in step with storage.models.listings.Indicator and storage.routes, whose queries must
# state this condition as written (a literal) for the index to be used.
ROUTES_ONLY = "kind = 'route'"


def upgrade() -> None:
    op.create_index("ix_listing_versions_listing_latest", "listing_versions", ["listing_id", "id"])
    op.create_index(
        "ix_indicators_route",
        "indicators",
        ["value", "version_id"],
        sqlite_where=sa.text(ROUTES_ONLY),
        postgresql_where=sa.text(ROUTES_ONLY),
    )


def downgrade() -> None:
    op.drop_index("ix_indicators_route", table_name="indicators")
    op.drop_index("ix_listing_versions_listing_latest", table_name="listing_versions")
