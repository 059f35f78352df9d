"""``synthwatch alerts``: raise the alerts of watch rules' new matches and send them (the
scheduler runs ``alerts send`` every 15 minutes), the alert outbox, and a retry."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from rich.table import Table

from review.alerts.deliver import retry_delivery, send_alerts
from review.alerts.settings import AlertSettings
from storage.alert_outbox import delivery_rows
from storage.models import ALERT_DELIVERY_STATUSES
from synthwatch.commands.common import MAX_ID, Subparsers, open_store, out, record_id, whole_number


def register(sub: Subparsers) -> None:
    alerts = sub.add_parser("alerts", help="watch rules' alerts: raise, send, list, retry")
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")

    send = actions.add_parser(
        "send", help="raise the alerts of new matches, then send (and retry) what waits"
    )
    send.set_defaults(handler=send_command)

    outbox = actions.add_parser("outbox", help="list alert messages and their replies")
    outbox.add_argument("--status", choices=ALERT_DELIVERY_STATUSES)
    outbox.add_argument("--limit", type=whole_number(1, MAX_ID), default=50)
    outbox.add_argument("--json", action="store_true", help="one JSON object per line")
    outbox.set_defaults(handler=list_outbox)

    retry = actions.add_parser("retry", help="queue a failed alert message again")
    retry.add_argument("delivery_id", type=record_id, metavar="ID")
    retry.set_defaults(handler=retry_command)


def send_command(args: argparse.Namespace) -> int:
    """Raise and deliver; exit 1 when a message failed for good in this run."""
    settings = AlertSettings.from_env()
    report = send_alerts(open_store().session_factory, settings=settings, clock=_now)
    for alert_id, rule_id, case_id in report.raised:
        out.print(f"alert {alert_id}: rule {rule_id} matched case {case_id}", highlight=False)
    for label, entries in (
        ("sent", report.sent),
        ("retrying", report.retrying),
        ("failed", report.failed),
    ):
        for delivery_id, channel, reply in entries:
            out.print(f"{label} #{delivery_id} ({channel}): {reply}", highlight=False, markup=False)
    if not (report.raised or report.sent or report.retrying or report.failed):
        out.print(f"nothing new ({report.rules} active rule(s))", highlight=False)
    return 1 if report.failed else 0


def list_outbox(args: argparse.Namespace) -> int:
    """List alert outbox rows, newest first."""
    table = Table("id", "alert", "rule", "owner", "case", "channel", "status", "attempts", "reply")
    with open_store().sessions() as session:
        for row, alert, rule, username in delivery_rows(
            session, status=args.status, limit=args.limit
        ):
            if args.json:
                record = {
                    "id": row.id,
                    "alert_id": alert.id,
                    "rule_id": rule.id,
                    "rule": rule.name,
                    "owner": username,
                    "case_id": alert.case_id,
                    "channel": row.channel,
                    "target": row.target,
                    "message_id": row.message_id,
                    "status": row.status,
                    "attempts": row.attempts,
                    "created_at": row.created_at.isoformat(),
                    "next_attempt_at": _moment(row.next_attempt_at),
                    "sent_at": _moment(row.sent_at),
                    "reply": row.reply,
                }
                print(json.dumps(record, sort_keys=True))
                continue
            table.add_row(
                str(row.id),
                str(alert.id),
                rule.name,
                username,
                str(alert.case_id),
                row.channel,
                row.status,
                str(row.attempts),
                row.reply or "",
            )
    if not args.json:
        out.print(table)
    return 0


def retry_command(args: argparse.Namespace) -> int:
    """Queue a failed message again; the next ``alerts send`` delivers it."""
    with open_store().sessions() as session:
        row = retry_delivery(session, args.delivery_id, now=_now())
        out.print(f"#{row.id} ({row.channel}) is queued again", highlight=False)
    return 0


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _now() -> datetime:
    return datetime.now(UTC)
