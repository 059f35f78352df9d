"""version span counts

Adds ``listing_versions.span_counts``: how many mentions (by substance class) and indicators (by
kind) extraction found in a version, since ``storage.listings.store_listing`` now keeps at most
``MAX_STORED_SPANS`` of them. Versions already stored kept every span, so they stay NULL: their
rows are the whole count.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listing_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("span_counts", sa.JSON(), nullable=True))


def downgrade() -> None:
    # The counts of capped versions are lost: their rows then read as all that was found.
    # A plain DROP COLUMN (SQLite 3.35 and later): a batch would rebuild listing_versions, and
    # dropping the old table breaks the foreign keys of mentions and indicators.
    op.drop_column("listing_versions", "span_counts")
