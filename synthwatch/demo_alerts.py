"""The demo's watch rule: demo-analyst watches isotonitazene on the forum and is alerted once.

The rule is saved before the crawls, so the forum's isotonitazene thread is a match new to it.
Alerts are raised and sent after the first crawls, by e-mail to a mail sink on 127.0.0.1
(``$SYNTHWATCH_HOME/demo-alerts``, as ``synthwatch alerts send`` would send them), and again
after the second day, when the thread has a new version: it raises no second alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from demo.mail_sink import HOST, MailSink, MailSinkUnavailable
from review.alerts.deliver import send_alerts
from review.alerts.settings import AlertSettings
from review.digest.settings import SmtpSettings
from storage.clock import utcnow
from storage.models import EMAIL_CHANNEL, WatchRule
from storage.users import get_user
from storage.watch import RuleSpec, create_rule
from synthwatch.demo_mail import MAIL_DOMAIN, SENDER, SMTP_TIMEOUT_S
from synthwatch.store import Store

RULE_OWNER = "demo-analyst"
DEMO_RULE = RuleSpec(
    "Isotonitazene on the forum",
    concept_id="isotonitazene",
    source_id="demo-forum",
    channels=(EMAIL_CHANNEL,),
)


@dataclass
class DemoAlerts:
    """What the demo's rule raised in each round and what its mail sink received."""

    folder: Path
    rule_id: int = 0
    raised: list[int] = field(default_factory=list)  # alerts raised, per round
    sent: int = 0
    failed: int = 0
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the rounds as JSON-ready data."""
        return {
            "folder": str(self.folder),
            "rule_id": self.rule_id,
            "raised": self.raised,
            "sent": self.sent,
            "failed": self.failed,
            "problem": self.problem,
        }


def ensure_demo_rule(session: Session, now: datetime) -> int:
    """Save the demo's rule for demo-analyst unless it has it; return its id."""
    owner = get_user(session, RULE_OWNER)
    assert owner is not None, "the demo users are made first"
    found = session.scalar(
        select(WatchRule.id).where(WatchRule.owner_id == owner.id, WatchRule.name == DEMO_RULE.name)
    )
    if found is not None:
        return found
    return create_rule(session, owner, DEMO_RULE, now=now).id


def send_demo_alerts(store: Store, alerts: DemoAlerts, *, base_url: str) -> None:
    """Raise the alerts of new matches and send them to the demo's mail sink: one round."""
    sink = MailSink(alerts.folder)
    try:
        sink.start()
    except MailSinkUnavailable as error:
        alerts.problem = str(error)
        return
    try:
        relay = SmtpSettings(
            host=HOST, port=sink.port, sender=SENDER, starttls=False, timeout=SMTP_TIMEOUT_S
        )
        settings = AlertSettings(base_url=base_url, message_id_domain=MAIL_DOMAIN, smtp=relay)
        report = send_alerts(store.session_factory, settings=settings, clock=utcnow)
    finally:
        sink.stop()
    alerts.raised.append(len(report.raised))
    alerts.sent += len(report.sent)
    alerts.failed += len(report.failed) + len(report.retrying)
