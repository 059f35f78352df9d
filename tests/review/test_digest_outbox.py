"""Delivering the digest to a real SMTP server (aiosmtpd on 127.0.0.1): once, and only once.

Crashes are simulated by stopping the sender at a named step with an exception nothing in
SynthWatch catches (like a killed process, its open transaction rolls back and its socket drops
without QUIT); a later run with the clock moved on must then finish the job.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import review.digest.outbox
from review.digest.build import build_digest
from review.digest.mail import SmtpTransport, Step
from review.digest.outbox import (
    CANCELLED,
    CLAIM_TIMEOUT,
    MAX_ATTEMPTS,
    SendReport,
    retry_delay,
    retry_failed,
    send_digests,
)
from review.digest.render import render_text
from review.digest.settings import DigestSchedule, SmtpSettings
from review.errors import WeekError
from storage.db import transaction
from storage.models import DigestMessage, ScheduleLedger, User
from tests.review.digest_testkit import (
    SEND_AT,
    DigestSeed,
    ScriptedHandler,
    authenticator,
    certificate,
    free_port,
    plain_settings,
    seed_digest,
    server_tls_context,
    start_server,
)
from tests.review.review_testkit import XSS_IMG, XSS_TITLE

BASE_URL = "https://review.example"
RECIPIENTS = ("ana", "lee", "adm", "lou")  # "old" is disabled, "nomail" has no address


class Crash(BaseException):
    """A process dying at a step: nothing in SynthWatch catches a BaseException."""


@pytest.fixture
def history(factory: sessionmaker[Session]) -> DigestSeed:
    return seed_digest(factory)


@dataclass(frozen=True)
class MailServer:
    """A scripted SMTP server on 127.0.0.1 and the settings that reach it."""

    handler: ScriptedHandler
    controller: Controller

    @property
    def settings(self) -> SmtpSettings:
        return plain_settings(self.controller)


@pytest.fixture
def mail() -> Iterator[MailServer]:
    handler = ScriptedHandler()
    controller = start_server(handler)
    yield MailServer(handler, controller)
    controller.stop()


def run(
    factory: sessionmaker[Session],
    settings: SmtpSettings,
    now: datetime,
    *,
    week: str | None = None,
    step: Step | None = None,
    context: ssl.SSLContext | None = None,
) -> SendReport:
    return send_digests(
        factory,
        SmtpTransport(settings, ssl_context=context),
        sender=settings.sender,
        clock=lambda: now,
        schedule=DigestSchedule(),
        base_url=BASE_URL,
        message_id_domain="synthwatch.example",
        week=week,
        step=step,
    )


def rows(factory: sessionmaker[Session]) -> dict[tuple[str, str], DigestMessage]:
    with factory() as session:
        query = select(DigestMessage, User.username).join(User)
        return {(r.week, name): r for r, name in session.execute(query)}


def address(name: str) -> str:
    return f"{name}@team.example"


def test_each_subscriber_gets_the_weeks_digest_once_with_both_parts(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler = mail.handler
    report = run(factory, mail.settings, SEND_AT)

    assert report.enqueued == {"2026-W48": 4}
    assert len(report.sent) == 4 and not report.failed
    assert sorted(r for received in handler.received for r in received.rcpt_tos) == sorted(
        address(n) for n in RECIPIENTS
    )
    assert handler.to(address("old")) == []  # disabled: nothing
    (lou,) = handler.to(address("lou"))
    message = lou.message
    assert lou.mail_from == "digest@synthwatch.example"
    assert message["Message-ID"] == f"<digest-2026-W48-{history.users['lou']}@synthwatch.example>"
    assert message["Subject"] == (
        "SynthWatch 2026-W48: 4 new flagged listings, 2 waiting for your decision"
    )
    headers = " ".join(f"{k}: {v}" for k, v in message.items())
    for scraped in ("<b>", "<i>", "script", "Demo Market", "Fentanyl", "tonitazepyne", "wickr"):
        assert scraped not in headers
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    body = text.get_content()
    assert "New flagged listings: 4" in body and "WAITING FOR YOUR DECISION" in body
    assert f"{BASE_URL}/cases/{history.base.cases['fentanyl']}" in body
    page = lxml.html.fromstring(html.get_content())
    assert page.xpath("string(//*[@id='new-cases'])") == "4"
    assert page.xpath("//table[@id='top-cases']//a/@href")[0] == (
        f"{BASE_URL}/cases/{history.base.cases['fentanyl']}"
    )
    (src,) = page.xpath("//img[@id='trend-chart']/@src")
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert src == f"cid:{image['Content-ID'].strip('<>')}"
    assert image.get_content().startswith(b"\x89PNG")
    (ana,) = handler.to(address("ana"))
    assert ana.message["Subject"] == "SynthWatch 2026-W48: 4 new flagged listings"
    assert "WAITING FOR" not in ana.message.get_body(preferencelist=("plain",)).get_content()
    stored = rows(factory)
    assert {s.status for s in stored.values() if s.week == "2026-W48"} == {"sent"}
    assert stored[("2026-W48", "lou")].smtp_reply == "250 2.0.0 queued as test"
    assert stored[("2026-W48", "lou")].sent_at == SEND_AT

    again = run(factory, mail.settings, SEND_AT + timedelta(minutes=15))
    assert (again.enqueued, again.sent) == ({}, [])
    assert len(handler.received) == 4


def test_an_xss_payload_in_a_title_stays_inert_in_the_html_part(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler = mail.handler
    run(factory, mail.settings, SEND_AT)

    (received,) = handler.to(address("ana"))
    html_part = received.message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    page = lxml.html.fromstring(html)
    assert XSS_TITLE not in html and XSS_IMG not in html
    assert page.xpath("//script | //svg") == []
    assert [e for e in page.iter() if any(a.startswith("on") for a in e.attrib)] == []
    links = page.xpath("//table[@id='top-cases']//a")
    assert XSS_TITLE in [a.text_content() for a in links]
    assert all(a.get("href").startswith(f"{BASE_URL}/cases/") for a in links)


def crash_at(point: str) -> Step:
    """Crash the first time the sender reaches ``point``."""
    reached = []

    def step(name: str) -> None:
        if name == point and not reached:
            reached.append(name)
            raise Crash(point)

    return step


@pytest.mark.parametrize("point", ["connect", "rcpt", "accepted", "recorded"])
def test_a_crash_at_any_step_loses_nothing_and_duplicates_at_most_identically(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
    point: str,
) -> None:
    handler, settings = mail.handler, mail.settings
    with pytest.raises(Crash):
        run(factory, settings, SEND_AT, step=crash_at(point))
    first = rows(factory)[("2026-W48", "ana")]  # the first row: the one the crash hit
    assert first.status == ("sent" if point == "recorded" else "sending")

    # A run soon after leaves the claimed row alone: its sender might still be at work.
    run(factory, settings, SEND_AT + timedelta(minutes=1))
    assert rows(factory)[("2026-W48", "ana")].status == first.status
    run(factory, settings, SEND_AT + CLAIM_TIMEOUT + timedelta(minutes=1))

    final = rows(factory)
    assert {r.status for r in final.values() if r.week == "2026-W48"} == {"sent"}
    for name in RECIPIENTS:
        got = handler.to(address(name))
        duplicated = name == "ana" and point == "accepted"
        assert len(got) == (2 if duplicated else 1), name
        assert len({g.data for g in got}) == 1  # a duplicate is the same message, byte for byte
        assert got[0].message["Message-ID"] == final[("2026-W48", name)].message_id
    assert final[("2026-W48", "ana")].attempts == (1 if point == "recorded" else 2)


def test_a_crash_while_enqueueing_leaves_nothing_half_done(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = mail.handler
    build = review.digest.outbox._message
    calls = []

    def crash_on_third(*args: object, **kwargs: object) -> DigestMessage:
        calls.append(1)
        if len(calls) == 3:
            raise Crash("enqueue")
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(review.digest.outbox, "_message", crash_on_third)
    with pytest.raises(Crash):
        run(factory, mail.settings, SEND_AT)
    with factory() as session:
        assert (
            session.scalars(
                select(ScheduleLedger).where(ScheduleLedger.job_id == "digest:weeks")
            ).all()
            == []
        )
    assert [k for k in rows(factory) if k[0] == "2026-W48"] == []

    monkeypatch.setattr(review.digest.outbox, "_message", build)
    run(factory, mail.settings, SEND_AT + timedelta(minutes=15))
    assert sorted(r for m in handler.received for r in m.rcpt_tos) == sorted(
        address(n) for n in RECIPIENTS
    )


def test_a_nine_day_outage_sends_each_missed_week_once_marked_late(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler, settings = mail.handler, mail.settings
    monday = datetime.fromisoformat("2026-11-16T07:30:00+00:00")  # W46 fell due at 07:00
    assert run(factory, settings, monday).enqueued == {"2026-W46": 4}
    assert run(factory, settings, monday + timedelta(minutes=15)).enqueued == {}
    # Down from Saturday 21 to Monday 30 November, noon: the Mondays of W47 and W48 missed.
    back = datetime.fromisoformat("2026-11-30T12:00:00+00:00")
    assert run(factory, settings, back).enqueued == {"2026-W47": 4, "2026-W48": 4}
    assert run(factory, settings, back + timedelta(minutes=15)).enqueued == {}

    for name in RECIPIENTS:
        got = [r.message for r in handler.to(address(name))]
        weeks = [m["X-SynthWatch-Digest"] for m in got]
        assert weeks == ["2026-W46", "2026-W47 late", "2026-W48 late"], name
        assert [m["Subject"].startswith("[late] ") for m in got] == [False, True, True]
    late = handler.to(address("ana"))[1].message.get_body(preferencelist=("plain",))
    assert late is not None and "LATE: this digest was due Mon 23 Nov 2026 07:00 UTC" in (
        late.get_content()
    )
    stored = rows(factory)
    assert [stored[(w, "lee")].late for w in ("2026-W46", "2026-W47", "2026-W48")] == [
        False,
        True,
        True,
    ]


def test_an_explicit_week_sends_it_without_starting_a_catch_up(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler, settings = mail.handler, mail.settings
    assert run(factory, settings, SEND_AT, week="2026-W40").enqueued == {"2026-W40": 4}
    assert run(factory, settings, SEND_AT, week="2026-W40").enqueued == {"2026-W40": 0}
    # The scheduled run still sends only the week due, not W41-W47.
    assert run(factory, settings, SEND_AT).enqueued == {"2026-W48": 4}
    assert len(handler.received) == 8
    with pytest.raises(WeekError, match="has not ended"):
        run(factory, settings, SEND_AT, week="2026-W49")


def test_a_451_is_retried_with_backoff(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler, settings = mail.handler, mail.settings
    handler.script[address("ana")] = [("data", "451 4.7.1 Greylisted, try again later")]

    report = run(factory, settings, SEND_AT)
    row = rows(factory)[("2026-W48", "ana")]
    assert (row.status, row.attempts, row.smtp_reply) == (
        "pending",
        1,
        "451 4.7.1 Greylisted, try again later",
    )
    assert row.next_attempt_at == SEND_AT + retry_delay(1) == SEND_AT + timedelta(minutes=5)
    assert len(report.retrying) == 1 and len(report.sent) == 3

    run(factory, settings, SEND_AT + timedelta(minutes=2))  # not yet
    assert rows(factory)[("2026-W48", "ana")].attempts == 1
    run(factory, settings, SEND_AT + timedelta(minutes=5))

    row = rows(factory)[("2026-W48", "ana")]
    assert (row.status, row.attempts, row.smtp_reply) == ("sent", 2, "250 2.0.0 queued as test")
    assert len(handler.to(address("ana"))) == 1


def test_a_4xx_that_never_ends_fails_after_the_last_attempt(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler, settings = mail.handler, mail.settings
    handler.always[address("lee")] = ("rcpt", "452 4.2.2 Mailbox full")
    now = SEND_AT
    for attempt in range(1, MAX_ATTEMPTS + 1):
        run(factory, settings, now)
        now += retry_delay(attempt)

    row = rows(factory)[("2026-W48", "lee")]
    assert (row.status, row.attempts, row.smtp_reply) == (
        "failed",
        MAX_ATTEMPTS,
        "452 4.2.2 Mailbox full",
    )
    assert retry_delay(MAX_ATTEMPTS) == timedelta(hours=6)


def test_a_550_is_recorded_and_reported_in_the_next_digest(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler, settings = mail.handler, mail.settings
    handler.script[address("ana")] = [("rcpt", "550 5.1.1 <ana@team.example>: No such user")]

    report = run(factory, settings, SEND_AT)
    assert [reply for _id, _week, reply in report.failed] == [
        "550 5.1.1 <ana@team.example>: No such user"
    ]
    run(factory, settings, SEND_AT + timedelta(days=1))  # never retried by itself
    row = rows(factory)[("2026-W48", "ana")]
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None)
    assert handler.to(address("ana")) == []

    with factory() as session:
        digest = build_digest(session, week="2026-W49", now=SEND_AT + timedelta(days=7))
    assert [(u.week, u.username, u.smtp_reply) for u in digest.undelivered] == [
        ("2026-W48", "ana", "550 5.1.1 <ana@team.example>: No such user"),
        ("2026-W45", "ana", "550 5.1.1 <ana@old.example>: mailbox unknown"),
    ][::-1]
    assert "! 2026-W48 to ana after 1 attempt: 550 5.1.1" in render_text(digest)

    # An administrator fixes the address and queues it again: same Message-ID, new address.
    with transaction(factory) as session:
        user = session.get(User, history.users["ana"])
        assert user is not None
        user.email = "ana@new.example"
        retry_failed(session, row.id, now=SEND_AT + timedelta(days=1))
    run(factory, settings, SEND_AT + timedelta(days=1))
    (received,) = handler.to("ana@new.example")
    assert received.message["Message-ID"] == row.message_id


def test_starttls_and_authentication(
    factory: sessionmaker[Session], history: DigestSeed, tmp_path: Path
) -> None:
    cert, key = certificate(tmp_path)
    handler = ScriptedHandler()
    controller = start_server(
        handler,
        tls_context=server_tls_context(cert, key),
        require_starttls=True,
        authenticator=authenticator("digest", "s3cret"),
        auth_require_tls=True,
        auth_required=True,
    )
    client = ssl.create_default_context(cafile=str(cert))
    try:
        settings = SmtpSettings(
            host="127.0.0.1",
            port=controller.port,
            sender="digest@synthwatch.example",
            user="digest",
            password="wrong",
            timeout=10,
        )
        run(factory, settings, SEND_AT, context=client)
        row = rows(factory)[("2026-W48", "ana")]
        # Our setup is wrong, not the message: it waits for the setup to be fixed.
        assert (row.status, row.smtp_reply[:3]) == ("pending", "535")

        settings = SmtpSettings(
            host="127.0.0.1",
            port=controller.port,
            sender="digest@synthwatch.example",
            user="digest",
            password="s3cret",
            timeout=10,
        )
        run(factory, settings, SEND_AT + timedelta(minutes=5), context=client)
    finally:
        controller.stop()

    assert len(handler.received) == 4
    assert [(r.tls, r.login) for r in handler.received] == [(True, b"digest")] * 4


def test_a_server_that_is_down_leaves_the_digest_queued(
    factory: sessionmaker[Session],
    history: DigestSeed,
    mail: MailServer,
) -> None:
    handler = mail.handler
    down = SmtpSettings(
        host="127.0.0.1", port=free_port(), sender="d@synthwatch.example", starttls=False
    )
    report = run(factory, down, SEND_AT)

    assert len(report.retrying) == 4
    assert {r.status for r in rows(factory).values() if r.week == "2026-W48"} == {"pending"}
    assert "ConnectionRefusedError" in rows(factory)[("2026-W48", "lou")].smtp_reply

    # Meanwhile lee is disabled and adm unsubscribes: their queued digests are not sent.
    with transaction(factory) as session:
        for name, field in (("lee", "active"), ("adm", "digest_subscribed")):
            user = session.get(User, history.users[name])
            assert user is not None
            setattr(user, field, False)
    run(factory, mail.settings, SEND_AT + timedelta(minutes=5))

    assert sorted(r for m in handler.received for r in m.rcpt_tos) == [
        address("ana"),
        address("lou"),
    ]
    assert rows(factory)[("2026-W48", "lee")].smtp_reply == CANCELLED
