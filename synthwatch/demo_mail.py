"""The demo's weekly digest, really sent: the demo users subscribe, and every due week goes to a
mail sink on 127.0.0.1 (demo/mail_sink.py) through the outbox, as ``synthwatch digest send``
would send it to a mail server.

The week sent is the last ISO week that ended (the digest is never sent for a week still
running); what today's crawl found is in the preview of this week. The configured
``SYNTHWATCH_SMTP_*`` relay, if any, is never used: demo mail stays on this machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from demo.mail_sink import HOST, MailSink, MailSinkUnavailable
from review.digest.mail import SmtpTransport
from review.digest.outbox import send_digests
from review.digest.settings import DigestSchedule, SmtpSettings
from review.users import subscribe_digest
from storage.clock import utcnow
from storage.users import get_user
from synthwatch.store import Store

MAIL_DOMAIN = "synthwatch.example"
SENDER = f"SynthWatch demo <digest@{MAIL_DOMAIN}>"
SMTP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class DigestDelivery:
    """What the demo handed to its mail sink."""

    folder: Path
    enqueued: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    failed: int = 0
    port: int | None = None
    # Why nothing could be sent (no aiosmtpd, no port); None when the sink ran.
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the delivery as JSON-ready data."""
        return {
            "folder": str(self.folder),
            "enqueued": self.enqueued,
            "sent": self.sent,
            "failed": self.failed,
            "problem": self.problem,
        }


def demo_address(username: str) -> str:
    """Return the invented address a demo user gets the digest at."""
    return f"{username}@{MAIL_DOMAIN}"


def subscribe_demo_users(session: Session, usernames: Iterable[str], now: datetime) -> None:
    """Subscribe each demo user at their demo address, unless they already are (audited)."""
    for username in usernames:
        user = get_user(session, username)
        if user is None or (user.digest_subscribed and user.email == demo_address(username)):
            continue
        subscribe_digest(session, username, demo_address(username), now=now)
    session.flush()


def send_demo_digest(store: Store, *, schedule: DigestSchedule, base_url: str) -> DigestDelivery:
    """Send every due digest week not sent yet to a mail sink in ``$SYNTHWATCH_HOME/demo-mail``."""
    folder = store.settings.home / "demo-mail"
    sink = MailSink(folder)
    try:
        sink.start()
    except MailSinkUnavailable as error:
        return DigestDelivery(folder, problem=str(error))
    try:
        relay = SmtpSettings(
            host=HOST, port=sink.port, sender=SENDER, starttls=False, timeout=SMTP_TIMEOUT_S
        )
        report = send_digests(
            store.session_factory,
            SmtpTransport(relay),
            sender=relay.sender,
            clock=utcnow,
            schedule=schedule,
            base_url=base_url,
            message_id_domain=MAIL_DOMAIN,
        )
        port = sink.port
    finally:
        sink.stop()
    return DigestDelivery(
        folder,
        enqueued=report.enqueued,
        sent=len(report.sent),
        failed=len(report.failed) + len(report.retrying),
        port=port,
    )
