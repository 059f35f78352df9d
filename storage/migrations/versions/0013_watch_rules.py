"""watch rules and alerts

Adds analysts' watch rules (``watch_rules``), the alerts they raised (``watch_alerts``, one per
rule and case: a unique pair, so a recrawl can't raise a second) and the alert outbox
(``alert_outbox``, one message per alert and channel). Nothing existing changes; rules start
matching from when they are saved (``storage.watch``).

Revision ID: 0013_watch_rules
Revises: 0012_clusters
Create Date: 2026-12-08 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_watch_rules"
down_revision = "0012_clusters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("concept_id", sa.String(length=120), nullable=True),
        sa.Column("substance_class", sa.String(length=64), nullable=True),
        sa.Column("search", sa.String(length=200), nullable=True),
        sa.Column("seller_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("novel_substance", sa.Boolean(), nullable=False),
        sa.Column("min_score", sa.Float(), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_watch_rules_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_watch_rules_seller_id_sellers")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_watch_rules_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_rules")),
    )
    op.create_index(op.f("ix_watch_rules_owner_id"), "watch_rules", ["owner_id"])
    op.create_table(
        "watch_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_watch_alerts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["watch_rules.id"], name=op.f("fk_watch_alerts_rule_id_watch_rules")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["listing_versions.id"],
            name=op.f("fk_watch_alerts_version_id_listing_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_alerts")),
        sa.UniqueConstraint("rule_id", "case_id", name=op.f("uq_watch_alerts_rule_id")),
    )
    op.create_index(op.f("ix_watch_alerts_case_id"), "watch_alerts", ["case_id"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["watch_alerts.id"], name=op.f("fk_alert_outbox_alert_id_watch_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
        sa.UniqueConstraint("alert_id", "channel", name=op.f("uq_alert_outbox_alert_id")),
        sa.UniqueConstraint("message_id", name=op.f("uq_alert_outbox_message_id")),
    )
    op.create_index(op.f("ix_alert_outbox_alert_id"), "alert_outbox", ["alert_id"])


def downgrade() -> None:
    op.drop_table("alert_outbox")
    op.drop_table("watch_alerts")
    op.drop_table("watch_rules")
