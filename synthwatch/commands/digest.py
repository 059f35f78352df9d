"""``synthwatch digest``: preview, send (idempotent, catching up missed weeks), the outbox and
who is subscribed."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from review.digest.build import Reader
from review.digest.mail import SmtpTransport
from review.digest.outbox import retry_failed, send_digests
from review.digest.render import write_preview
from review.digest.settings import DigestSettings
from review.users import find_user, subscribe_digest, unsubscribe_digest
from storage.models import DIGEST_STATUSES, DigestMessage
from storage.outbox import outbox_rows
from storage.users import users_with_email
from synthwatch.commands.common import (
    MAX_ID,
    Subparsers,
    err,
    open_store,
    out,
    record_id,
    whole_number,
)


def register(sub: Subparsers) -> None:
    digest = sub.add_parser("digest", help="the weekly digest e-mail")
    actions = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")

    preview = actions.add_parser("preview", help="write the digest of a week to an HTML file")
    preview.add_argument("--week", help="ISO week such as 2026-W48 (default: this week so far)")
    preview.add_argument("--out", type=Path, required=True, metavar="FILE")
    preview.add_argument("--as", dest="as_user", metavar="USER", help="as this user gets it")
    preview.set_defaults(handler=preview_digest)

    send = actions.add_parser(
        "send", help="send every due week not sent yet (or one --week), then retry what waits"
    )
    send.add_argument("--week", help="send this ended ISO week to subscribers who lack it")
    send.set_defaults(handler=send_digest)

    outbox = actions.add_parser("outbox", help="list digest messages and their SMTP replies")
    outbox.add_argument("--week")
    outbox.add_argument("--status", choices=DIGEST_STATUSES)
    outbox.add_argument("--limit", type=whole_number(1, MAX_ID), default=50)
    outbox.add_argument("--json", action="store_true", help="one JSON object per line")
    outbox.set_defaults(handler=list_outbox)

    retry = actions.add_parser("retry", help="queue a failed message again (same Message-ID)")
    retry.add_argument("outbox_id", type=record_id, metavar="ID")
    retry.set_defaults(handler=retry_message)

    subscribe = actions.add_parser("subscribe", help="subscribe a user, at an e-mail address")
    subscribe.add_argument("username")
    subscribe.add_argument("email")
    subscribe.set_defaults(handler=subscribe_user)

    unsubscribe = actions.add_parser("unsubscribe", help="stop sending a user the digest")
    unsubscribe.add_argument("username")
    unsubscribe.set_defaults(handler=unsubscribe_user)

    actions.add_parser("recipients", help="list subscribed users").set_defaults(
        handler=list_recipients
    )


def preview_digest(args: argparse.Namespace) -> int:
    """Write one week's digest to an HTML file."""
    settings = DigestSettings.from_env()
    with open_store().sessions() as session:
        reader = None
        if args.as_user:
            user = find_user(session, args.as_user)
            reader = Reader(user.id, user.username, user.role)
        path = write_preview(
            session,
            args.out,
            now=_now(),
            week=args.week,
            base_url=settings.base_url,
            reader=reader,
        )
    err.print(f"digest written to {path}", highlight=False)
    return 0


def send_digest(args: argparse.Namespace) -> int:
    """Enqueue due weeks and deliver; exit 1 when a message failed for good in this run."""
    settings = DigestSettings.from_env()
    smtp = settings.relay()
    store = open_store()
    report = send_digests(
        store.session_factory,
        SmtpTransport(smtp),
        sender=smtp.sender,
        clock=_now,
        schedule=settings.schedule,
        base_url=settings.base_url,
        message_id_domain=settings.message_id_domain,
        week=args.week,
    )
    for week, count in report.enqueued.items():
        out.print(f"enqueued {week}: {count} message(s)", highlight=False)
    for label, entries in (
        ("sent", report.sent),
        ("retrying", report.retrying),
        ("failed", report.failed),
    ):
        for outbox_id, week, reply in entries:
            out.print(f"{label} #{outbox_id} ({week}): {reply}", highlight=False, markup=False)
    if not (report.enqueued or report.sent or report.retrying or report.failed):
        out.print("nothing due", highlight=False)
    return 1 if report.failed else 0


def list_outbox(args: argparse.Namespace) -> int:
    """List outbox rows, newest week first."""
    table = Table("id", "week", "user", "e-mail", "status", "late", "attempts", "when", "reply")
    with open_store().sessions() as session:
        rows = outbox_rows(session, week=args.week, status=args.status, limit=args.limit)
        for row, username in rows:
            when = row.sent_at or row.next_attempt_at
            if args.json:
                print(json.dumps(_outbox_json(row, username), sort_keys=True))
                continue
            table.add_row(
                str(row.id),
                row.week,
                username,
                row.email,
                row.status,
                "late" if row.late else "",
                str(row.attempts),
                when.strftime("%Y-%m-%d %H:%M UTC") if when else "",
                row.smtp_reply or "",
            )
    if not args.json:
        out.print(table)
    return 0


def _outbox_json(row: DigestMessage, username: str) -> dict[str, object]:
    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": row.id,
        "week": row.week,
        "user": username,
        "email": row.email,
        "message_id": row.message_id,
        "status": row.status,
        "late": row.late,
        "attempts": row.attempts,
        "created_at": moment(row.created_at),
        "next_attempt_at": moment(row.next_attempt_at),
        "sent_at": moment(row.sent_at),
        "smtp_reply": row.smtp_reply,
    }


def retry_message(args: argparse.Namespace) -> int:
    """Queue a failed message again; the next ``digest send`` delivers it."""
    with open_store().sessions() as session:
        row = retry_failed(session, args.outbox_id, now=_now())
        out.print(f"#{row.id} ({row.week}) to {row.email} is queued again", highlight=False)
    return 0


def subscribe_user(args: argparse.Namespace) -> int:
    """Subscribe a user to the digest at an e-mail address."""
    with open_store().sessions() as session:
        email = subscribe_digest(session, args.username, args.email, now=_now()).email
    out.print(f"{args.username} gets the weekly digest at {email}", highlight=False)
    return 0


def unsubscribe_user(args: argparse.Namespace) -> int:
    """Stop sending a user the digest (messages already queued for them are not sent)."""
    with open_store().sessions() as session:
        unsubscribe_digest(session, find_user(session, args.username), now=_now())
    out.print(f"{args.username} no longer gets the weekly digest", highlight=False)
    return 0


def list_recipients(args: argparse.Namespace) -> int:
    """List the users with an e-mail address and whether they get the digest."""
    table = Table("user", "role", "e-mail", "digest")
    with open_store().sessions() as session:
        for user in users_with_email(session):
            state = "subscribed" if user.digest_subscribed else "no"
            if not user.active:
                state = "disabled (none sent)"
            table.add_row(user.username, user.role, user.email or "", state)
    out.print(table)
    return 0


def _now() -> datetime:
    return datetime.now(UTC)
