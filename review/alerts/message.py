"""An alert's message: subject and text, fixed when the alert is raised, and its e-mail.

The facts come from the alert row (``storage.watch.case_facts``, what the case showed when it
matched); the link is the digest's (``review.digest.build.case_link``). Scraped text — the
listing's title and URL — is in the body only, without invisible characters, and never in a
header: the subject is the rule's name, the case id, substance and source names. The e-mail is
a pure function of the row and the sender, so a resend after a crash is the same bytes.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from review.digest.build import case_link
from review.invisible import visible_text
from storage.models import AlertDelivery, WatchAlert, WatchRule

MAX_SUBJECT_CHARS = 200
MAX_TITLE_CHARS = 300
_WIRE = policy.SMTP.clone(max_line_length=998)


def rule_link(base_url: str, rule_id: int) -> str:
    """Return the review app's link to a rule and its alerts."""
    return f"{base_url}/watch/{rule_id}"


def _line(text: str, limit: int) -> str:
    """Return text as one visible line of at most ``limit`` characters."""
    line = visible_text(text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _what(facts: dict[str, Any]) -> str:
    names = [str(s.get("name", "")) for s in facts.get("substances", [])]
    return ", ".join(n for n in names if n) or ", ".join(facts.get("classes", [])) or "no substance"


def alert_subject(rule: WatchRule, facts: dict[str, Any]) -> str:
    """Return the alert's subject: rule, case, substances and source; no scraped text."""
    subject = (
        f"SynthWatch alert · {rule.name}: case {facts['case_id']}, {_what(facts)} "
        f"on {facts.get('source_name') or facts.get('source_id')}"
    )
    return _line(subject, MAX_SUBJECT_CHARS)


def alert_text(rule: WatchRule, alert: WatchAlert, *, base_url: str) -> str:
    """Return the alert's text: the key facts of the case and the links."""
    facts = alert.facts
    substances = [
        f"{s.get('name')} ({s.get('class')})" for s in facts.get("substances", []) if s.get("name")
    ]
    sellers = [f"seller {s['id']} ({s.get('name', '')})" for s in facts.get("sellers", [])]
    lines = [
        f"Watch rule “{_line(rule.name, 200)}” matched a case new to it: case {facts['case_id']}"
        f" ({facts.get('state', 'new')}).",
        "",
        f"Listing:    {_line(str(facts.get('title') or '(no title)'), MAX_TITLE_CHARS)}",
        f"Substances: {', '.join(substances) or 'none named'}",
        f"Classes:    {', '.join(facts.get('classes', [])) or 'none'}",
        f"Source:     {facts.get('source_name')} ({facts.get('source_id')})",
        f"Score:      {float(facts.get('score', 0.0)):.2f}",
        f"Seller:     {'; '.join(sellers) or 'none linked'}",
        f"Page:       {_line(str(facts.get('url', '')), 500)}",
        "",
        f"Open the case: {case_link(base_url, int(facts['case_id']))}",
        f"The rule and its alerts: {rule_link(base_url, rule.id)}",
        "",
        f"Alert {alert.id}: this case raises no other alert of this rule, whatever comes later.",
    ]
    return "\n".join(lines) + "\n"


def alert_message_id(alert: WatchAlert, channel: str, domain: str) -> str:
    """Return the fixed Message-ID of an alert's message to one channel."""
    return f"<alert-{alert.id}-{channel}@{domain}>"


def build_email(row: AlertDelivery, *, sender: str) -> EmailMessage:
    """Return the e-mail of an outbox row; the same row gives the same bytes."""
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = row.subject
    message["From"] = sender
    message["To"] = row.target
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-SynthWatch-Alert"] = str(row.alert_id)
    message.set_content(row.body_text, subtype="plain", cte="quoted-printable")
    return message


def email_bytes(row: AlertDelivery, *, sender: str) -> bytes:
    """Return an outbox row's e-mail as it goes over the wire (CRLF line ends)."""
    return build_email(row, sender=sender).as_bytes(policy=_WIRE)
