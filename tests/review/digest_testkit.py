"""What the digest and outbox tests share: a seeded history, subscribers, and a real SMTP server.

The server is aiosmtpd on 127.0.0.1 with scripted replies: a recipient can be refused at RCPT
or at the end of DATA, a given number of times or always.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.orm import Session, sessionmaker

from review.digest.settings import SmtpSettings
from review.sources import approve_source
from review.users import create_user
from storage.crawls import finish_crawl_run, start_crawl_run
from storage.db import transaction
from storage.listings import AnalysisRecord, store_listing
from storage.models import Case, CaseDecision, DigestMessage, LexiconCandidate, User
from storage.schedule import claim_period, finish_period
from storage.sources import upsert_source
from tests.review.review_testkit import NOW, PASSWORD, Seed, _capture, mention, seed_database

# The Monday after ISO week 2026-W48, after the default 07:00 UTC at which it falls due.
SEND_AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
XSS_TERM = "<b>iso</b>tonitazepyne"
FORUM_NAME = "Forum <i>of</i> sellers"


@dataclass
class DigestSeed:
    """Ids of what the digest seed added on top of the review seed."""

    base: Seed
    users: dict[str, int] = field(default_factory=dict)


def seed_digest(factory: sessionmaker[Session]) -> DigestSeed:
    """Seed the review data, then decisions, history, candidates, sources and subscribers."""
    base = seed_database(factory)
    seeded = DigestSeed(base, dict(base.users))
    with transaction(factory) as session:
        users = {name: session.get(User, uid) for name, uid in base.users.items()}
        lou = create_user(session, username="lou", password=PASSWORD, role="legal", now=NOW)
        nomail = create_user(session, username="nomail", password=PASSWORD, role="analyst", now=NOW)
        users |= {"lou": lou, "nomail": nomail}
        seeded.users |= {"lou": lou.id, "nomail": nomail.id}
        for name, user in users.items():
            assert user is not None
            user.digest_subscribed = True
            user.email = None if name == "nomail" else f"{name}@team.example"
        _decide(session, base, users)
        _history(session, base)
        _candidates(session)
        _sources(session, users)
        # A digest the server refused for good three weeks ago: the next digests report it.
        session.add(
            DigestMessage(
                week="2026-W45",
                recipient_id=base.users["ana"],
                email="ana@old.example",
                message_id="<digest-2026-W45-x@synthwatch.invalid>",
                subject="s",
                body_text="t",
                body_html="h",
                status="failed",
                attempts=1,
                smtp_reply="550 5.1.1 <ana@old.example>: mailbox unknown",
                created_at=NOW - timedelta(days=21),
            )
        )
    return seeded


def _decide(session: Session, base: Seed, users: dict[str, Any]) -> None:
    """Write decisions as review.workflow would: the nitazene and old cases wait for legal."""
    ana, lee = users["ana"], users["lee"]
    steps = [
        ("nitazene", ana, "new", "confirmed", NOW - timedelta(hours=3)),
        ("nitazene", ana, "confirmed", "escalated", NOW - timedelta(hours=2)),
        ("cathinone", ana, "new", "dismissed", NOW - timedelta(hours=1)),
        # Confirmed last week (not counted in W48), escalated this week.
        ("old", ana, "new", "confirmed", NOW - timedelta(days=7) + timedelta(hours=1)),
        ("old", lee, "confirmed", "escalated", NOW - timedelta(days=2)),
    ]
    for key, actor, before, after, at in steps:
        case = session.get(Case, base.cases[key])
        assert case is not None
        case.state = after
        session.add(
            CaseDecision(
                case_id=case.id, from_state=before, to_state=after, actor_id=actor.id, at=at
            )
        )
    session.flush()


# Pages that name fentanyl this week and offer nothing: none of them may count as an offer.
BENIGN_FENTANYL = (
    ("news", "Police seize fentanyl", "News: police seized fentanyl pills in the port today."),
    (
        "naloxone",
        "Free naloxone kits",
        "Free naloxone kits and fentanyl test strips at the clinic.",
    ),
)


def _history(session: Session, base: Seed) -> None:
    """Fentanyl on offer in one listing in W44 and one more this week: up, and not new; news
    and harm-reduction pages naming fentanyl this week, which count for nothing."""
    referred = _listing(session, base, "fent-0", NOW - timedelta(days=28), "Fentanyl citrate")
    _set_state(session, referred, "referred", NOW - timedelta(days=27), base.users["lee"])
    # First seen in W47 naming no substance, its case confirmed then; named fentanyl this week.
    later = _listing(session, base, "fent-1", NOW - timedelta(days=8), "Fent 2", "5g for sale")
    _set_state(session, later, "confirmed", NOW - timedelta(days=8), base.users["ana"])
    _listing(session, base, "fent-1", NOW - timedelta(hours=4), "Fent 2")
    for key, title, text in BENIGN_FENTANYL:
        _listing(session, base, key, NOW - timedelta(hours=3), title, text, offer=False)


def _listing(
    session: Session,
    base: Seed,
    key: str,
    when: datetime,
    title: str,
    text: str = "",
    *,
    offer: bool = True,
) -> Case | None:
    """Crawl one listing version at ``when``; it names fentanyl when its text does."""
    run = start_crawl_run(session, source_id=base.source_id, now=when)
    url = f"http://127.0.0.1:8421/item/{key}"
    text = text or f"{title}: fentanyl for sale, 5g"
    stored = store_listing(
        session,
        source_id=base.source_id,
        url=url,
        capture=_capture(session, run.id, url, when),
        title=title,
        text=text,
        fields={},
        analysis=AnalysisRecord(
            score=3.0 if offer else 0.4,
            offer=offer,
            mentions=(
                [mention(text, "fentanyl", "fentanyl", "Fentanyl", "opioid")]
                if "fentanyl" in text
                else []
            ),
        ),
        now=when,
    )
    finish_crawl_run(session, run, now=when, status="finished", stats={})
    return stored.case


def _set_state(session: Session, case: Case | None, state: str, at: datetime, actor: int) -> None:
    assert case is not None
    session.add(
        CaseDecision(case_id=case.id, from_state=case.state, to_state=state, actor_id=actor, at=at)
    )
    case.state = state
    session.flush()


def _candidates(session: Session) -> None:
    for term, count, first in (
        (XSS_TERM, 7, NOW - timedelta(days=1)),
        ("bromazolam-x", 2, NOW - timedelta(days=2)),
        ("old-term", 9, NOW - timedelta(days=15)),
    ):
        session.add(
            LexiconCandidate(
                term=term, count=count, first_seen=first, last_seen=NOW, examples=[], status="new"
            )
        )


def _sources(session: Session, users: dict[str, Any]) -> None:
    """A forum crawled with refusals, a block page and errors; two sources never crawled."""
    long_ago = NOW - timedelta(days=60)
    upsert_source(
        session,
        source_id="forum",
        name=FORUM_NAME,
        config={"schedule": "interval:7d"},
        scope_fingerprint="a" * 64,
        now=long_ago,
    )
    run = start_crawl_run(session, source_id="forum", now=NOW - timedelta(days=1))
    finish_crawl_run(
        session,
        run,
        now=NOW - timedelta(days=1),
        status="interrupted",
        stats={
            "synthwatch/refused/robots": 2,
            "synthwatch/refused/onion": 1,
            "synthwatch/refused_urls/onion": ["http://x.onion/"],
            "synthwatch/blocked": 1,
            "synthwatch/blocked_urls": ["http://127.0.0.1:8421/captcha"],
            "synthwatch/errors": 3,
            "synthwatch/errors/http_500": 3,
            "synthwatch/robots/unreachable": 1,
        },
    )
    upsert_source(
        session,
        source_id="quiet",
        name="Quiet shop",
        config={"schedule": "cron:0 6 * * *"},
        scope_fingerprint="b" * 64,
        now=long_ago,
    )
    approve_source(
        session,
        source_id="quiet",
        approver=users["lee"],
        legal_basis="test",
        fingerprint="b" * 64,
        now=long_ago,
    )
    upsert_source(
        session,
        source_id="waiting",
        name="Unapproved board",
        config={"schedule": "interval:1d"},
        scope_fingerprint="c" * 64,
        now=long_ago,
    )
    start = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    period = claim_period(session, job_id="crawl:quiet", period_start=start, holder="t", now=start)
    assert period is not None
    finish_period(session, period, status="failed", now=start, detail="exit code 1")


# ---------------------------------------------------------------- the SMTP server


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: bytes | None

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class ScriptedHandler:
    """Accept everything except what the script says: ``{address: [(stage, reply), ...]}``.

    ``stage`` is ``rcpt`` or ``data``; each scripted reply is used once, in order, unless the
    address is in ``always``.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: dict[str, list[tuple[str, str]]] = {}
        self.always: dict[str, tuple[str, str]] = {}
        self.data_commands = 0

    def _scripted(self, address: str, stage: str) -> str | None:
        if address in self.always and self.always[address][0] == stage:
            return self.always[address][1]
        queue = self.script.get(address, [])
        if queue and queue[0][0] == stage:
            return queue.pop(0)[1]
        return None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self._scripted(address, "rcpt")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        for address in envelope.rcpt_tos:
            reply = self._scripted(address, "data")
            if reply is not None:
                return reply
        login = session.auth_data if session.authenticated else None
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.original_content or envelope.content),
                session.ssl is not None,
                login.login if isinstance(login, LoginPassword) else None,
            )
        )
        return "250 2.0.0 queued as test"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(handler: ScriptedHandler, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def plain_settings(controller: Controller) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=controller.port,
        sender="SynthWatch <digest@synthwatch.example>",
        starttls=False,
        timeout=10,
    )


def authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data == LoginPassword(
            user.encode(), password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    return check


def certificate(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1 and its key; return both paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
