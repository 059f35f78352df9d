"""crawl run warc seal

Adds ``crawl_runs.warc_bytes`` and ``crawl_runs.warc_sha256``: the evidence file's length and
SHA-256 when the run closed, so ``storage.warc`` finds a file cut or changed anywhere. Runs
closed before this revision stay NULL: their files are checked record by record only, and
``synthwatch evidence verify`` says so.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warc_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("warc_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35 and later): a batch would rebuild crawl_runs, whose
    # foreign keys captures reference.
    op.drop_column("crawl_runs", "warc_sha256")
    op.drop_column("crawl_runs", "warc_bytes")
