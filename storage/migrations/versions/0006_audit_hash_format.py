"""audit hash format

Adds ``audit_events.hash_format``: which fields a row's hash covers. The rows already written
were hashed without ``actor_id`` and keep format 1 (the server default), so their chain still
verifies; ``storage.audit`` writes every new row in format 2, which covers ``actor_id``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hash_format", sa.Integer(), server_default="1", nullable=False)
        )


def downgrade() -> None:
    # Format 2 rows would not verify under format 1: downgrading gives up verifying them.
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("hash_format")
