"""indicator identifier keys

Adds ``indicators.key``, the normalised identifier an indicator names ("wickr:chemking",
"phone:+12025550143"), indexed, and fills it for the rows already stored. Only extraction knows
how contact text reads as a key, and storage may not import nlp, so the caller passes the key
function (``nlp.identifier_key``) as ``config.attributes["identifier_key"]``; see
``storage.migrate.upgrade``.

Without that function this migration refuses to run on a database that already holds indicators:
a NULL key means "names no identifier", so rows left unfilled would silently stop linking the
listings of one seller, and nothing could later tell them from rows that truly name none. A
database without indicators (a new one) migrates without the function.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from storage.errors import MigrationError
from storage.migrate import IdentifierKey

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Rows read and updated per round trip while filling the keys.
BACKFILL_BATCH = 1000

_indicators = sa.table(
    "indicators",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("text", sa.Text),
    sa.column("value", sa.Text),
    sa.column("key", sa.String),
)


def upgrade() -> None:
    identifier_key: IdentifierKey | None = context.config.attributes.get("identifier_key")
    connection = op.get_bind()
    # Checked before any DDL: SQLite commits a schema change at once.
    if identifier_key is None and connection.scalar(sa.select(_indicators.c.id).limit(1)):
        raise MigrationError(
            "migration 0005 fills the identifier keys of stored indicators and needs "
            "extraction's key function: run `synthwatch db upgrade`, or pass "
            "identifier_key=nlp.identifier_key to storage.migrate.upgrade"
        )
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key", sa.String(length=320), nullable=True))
        batch_op.create_index(batch_op.f("ix_indicators_key"), ["key"], unique=False)
    if identifier_key is not None:
        _backfill(connection, identifier_key)


def _backfill(connection: sa.Connection, identifier_key: IdentifierKey) -> None:
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(_indicators.c.id, _indicators.c.kind, _indicators.c.text, _indicators.c.value)
            .where(_indicators.c.id > last_id)
            .order_by(_indicators.c.id)
            .limit(BACKFILL_BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        keys = [
            {"row_id": row.id, "new_key": key}
            for row in rows
            if (key := identifier_key(row.kind, row.text, row.value or "")) is not None
        ]
        if keys:
            connection.execute(
                _indicators.update()
                .where(_indicators.c.id == sa.bindparam("row_id"))
                .values(key=sa.bindparam("new_key")),
                keys,
            )


def downgrade() -> None:
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicators_key"))
        batch_op.drop_column("key")
