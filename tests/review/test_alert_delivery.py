"""Delivering alerts: to a real webhook receiver on 127.0.0.1 through Apprise and to the SMTP
server on 127.0.0.1 the digest tests use; once per case and rule, retried with backoff after a
failing receiver, and failures visible on the rule's page and the admins' alert outbox."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from review.alerts.deliver import NO_ADDRESS, send_alerts
from review.alerts.settings import AlertSettings
from review.digest.outbox import MAX_ATTEMPTS
from review.users import create_user
from storage.db import make_session_factory, transaction
from storage.listings import AnalysisRecord, MentionRecord
from storage.models import AlertDelivery, User, WatchAlert
from storage.sources import upsert_source
from storage.watch import RuleSpec, create_rule
from tests.factories import add_listing
from tests.review.digest_testkit import ScriptedHandler, plain_settings, start_server
from tests.review.review_testkit import NOW, PASSWORD, Seed, parse, signed_in

BASE_URL = "http://127.0.0.1:8000"
SECRET = "s3cr3t-hook-token"


@dataclass
class Receiver:
    """A webhook receiver: answers each POST with the next scripted status (default 200)."""

    port: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def url(self, path: str = f"hooks/{SECRET}") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            status = state.statuses.pop(0) if state.statuses else 200
            if status == 200:
                state.bodies.append(body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@dataclass(frozen=True)
class MailServer:
    handler: ScriptedHandler
    controller: Controller


@pytest.fixture
def mail() -> Iterator[MailServer]:
    handler = ScriptedHandler()
    controller = start_server(handler)
    yield MailServer(handler, controller)
    controller.stop()


def alert_settings(receiver: Receiver, mail: MailServer) -> AlertSettings:
    return AlertSettings(
        base_url=BASE_URL,
        channels={"team-hook": receiver.url()},
        message_id_domain="synthwatch.example",
        smtp=plain_settings(mail.controller),
    )


def make_rule(factory: sessionmaker[Session], seed: Seed, *channels: str) -> int:
    with transaction(factory) as session:
        user = session.get_one(User, seed.users["ana"])
        user.email = "ana@synthwatch.example"
        spec = RuleSpec("New nitazenes", substance_class="nitazene", channels=channels)
        return create_rule(session, user, spec, now=NOW).id


def new_offer(factory: sessionmaker[Session], seed: Seed, when: datetime, text: str = "") -> None:
    body = text or "Isotonitazene 5g, ships from NL"
    mention = MentionRecord(
        "isotonitazene", "Isotonitazene", "nitazene", "", 0, 13, "Isotonitazene", 1.0
    )
    with transaction(factory) as session:
        add_listing(
            session,
            "http://127.0.0.1:8421/item/iso",
            when,
            source_id=seed.source_id,
            text=body,
            title="Isotonitazene <b>5g</b>",
            analysis=AnalysisRecord(score=0.93, offer=True, mentions=[mention]),
        )


def clock_at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def deliveries(factory: sessionmaker[Session]) -> dict[str, AlertDelivery]:
    with factory() as session:
        return {row.channel: row for row in session.scalars(select(AlertDelivery))}


def test_an_alert_goes_once_by_webhook_and_by_mail(
    factory: sessionmaker[Session], seed: Seed, receiver: Receiver, mail: MailServer
) -> None:
    rule_id = make_rule(factory, seed, "email", "team-hook")
    new_offer(factory, seed, NOW + timedelta(minutes=1))
    settings = alert_settings(receiver, mail)
    report = send_alerts(factory, settings=settings, clock=lambda: NOW + timedelta(minutes=2))
    assert len(report.raised) == 1 and len(report.sent) == 2 and report.failed == []
    with factory() as session:
        (alert,) = session.scalars(select(WatchAlert))
    link = f"{BASE_URL}/cases/{alert.case_id}"

    (hook,) = receiver.bodies
    assert hook["title"].startswith(f"SynthWatch alert · New nitazenes: case {alert.case_id}")
    assert "Isotonitazene" in hook["title"] and "Demo Market" in hook["title"]
    for fact in ("Isotonitazene (nitazene)", "Score:      0.93", "Isotonitazene <b>5g</b>", link):
        assert fact in hook["message"], fact
    assert f"{BASE_URL}/watch/{rule_id}" in hook["message"]

    (received,) = mail.handler.received
    message = received.message
    assert received.rcpt_tos == ["ana@synthwatch.example"]
    assert message["Message-ID"] == f"<alert-{alert.id}-email@synthwatch.example>"
    assert message["From"] == "SynthWatch <digest@synthwatch.example>"
    assert "5g" not in message["Subject"]  # the scraped title stays out of the headers
    text = message.get_content()
    assert link in text and "Isotonitazene <b>5g</b>" in text

    # Sending again, a recrawl unchanged and one with a new version: nothing goes twice.
    assert (
        send_alerts(factory, settings=settings, clock=lambda: NOW + timedelta(minutes=3)).sent == []
    )
    new_offer(factory, seed, NOW + timedelta(minutes=4))
    new_offer(factory, seed, NOW + timedelta(minutes=5), "Isotonitazene 10g now, new price")
    again = send_alerts(factory, settings=settings, clock=lambda: NOW + timedelta(minutes=6))
    assert again.raised == [] and again.sent == []
    assert len(receiver.bodies) == 1 and len(mail.handler.received) == 1


def test_a_failing_receiver_is_retried_with_backoff(
    app: Flask, factory: sessionmaker[Session], seed: Seed, receiver: Receiver, mail: MailServer
) -> None:
    rule_id = make_rule(factory, seed, "team-hook")
    new_offer(factory, seed, NOW + timedelta(minutes=1))
    settings = alert_settings(receiver, mail)
    receiver.statuses = [500]
    t = NOW + timedelta(minutes=2)
    report = send_alerts(factory, settings=settings, clock=lambda: t)
    assert report.sent == [] and len(report.retrying) == 1
    row = deliveries(factory)["team-hook"]
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        t + timedelta(minutes=5),
    )
    assert "500" in (row.reply or "") and SECRET not in (row.reply or "")
    # Visible to its owner while it waits.
    page = signed_in(app, "ana").get(f"/watch/{rule_id}")
    assert "team-hook: pending" in parse(page).xpath("string(//ul[@class='deliveries'])")
    # Not before its time; then once.
    assert (
        send_alerts(factory, settings=settings, clock=lambda: t + timedelta(minutes=4)).sent == []
    )
    later = send_alerts(factory, settings=settings, clock=lambda: t + timedelta(minutes=5))
    assert len(later.sent) == 1
    assert len(receiver.bodies) == 1
    row = deliveries(factory)["team-hook"]
    assert (row.status, row.attempts) == ("sent", 2)


def test_failures_for_good_are_visible(
    app: Flask, factory: sessionmaker[Session], seed: Seed, receiver: Receiver, mail: MailServer
) -> None:
    rule_id = make_rule(factory, seed, "email", "team-hook", "gone-hook")
    new_offer(factory, seed, NOW + timedelta(minutes=1))
    mail.handler.always["ana@synthwatch.example"] = ("rcpt", "550 5.1.1 no such mailbox")
    receiver.statuses = [503] * (MAX_ATTEMPTS + 1)
    settings = alert_settings(receiver, mail)
    for attempt in range(MAX_ATTEMPTS):
        at = NOW + timedelta(minutes=2) + attempt * timedelta(hours=7)
        send_alerts(factory, settings=settings, clock=clock_at(at))
    rows = deliveries(factory)
    assert (rows["email"].status, rows["email"].reply) == ("failed", "550 5.1.1 no such mailbox")
    assert rows["gone-hook"].status == "failed"
    assert "no channel 'gone-hook'" in (rows["gone-hook"].reply or "")
    assert (rows["team-hook"].status, rows["team-hook"].attempts) == ("failed", MAX_ATTEMPTS)
    assert receiver.bodies == []
    admin = signed_in(app, "adm")
    page = parse(admin.get("/alerts/outbox?status=failed"))
    assert "3 alert messages failed for good" in page.xpath("string(//p[@role='alert'])")
    table = page.xpath("string(//table)")
    assert "550 5.1.1 no such mailbox" in table and "gone-hook" in table
    assert SECRET not in admin.get("/alerts/outbox").get_data(as_text=True)
    owner = parse(signed_in(app, "ana").get(f"/watch/{rule_id}"))
    assert "e-mail: failed" in owner.xpath("string(//ul[@class='deliveries'])")


def test_mail_waits_for_a_relay_and_an_owner_without_address_is_told(
    factory: sessionmaker[Session], seed: Seed, receiver: Receiver, mail: MailServer
) -> None:
    make_rule(factory, seed, "email")
    new_offer(factory, seed, NOW + timedelta(minutes=1))
    settings = replace(alert_settings(receiver, mail), smtp=None)
    report = send_alerts(factory, settings=settings, clock=lambda: NOW + timedelta(minutes=2))
    assert len(report.retrying) == 1
    assert "SYNTHWATCH_SMTP_HOST" in (deliveries(factory)["email"].reply or "")
    # The owner's address is gone by the time the next alert is raised.
    with transaction(factory) as session:
        session.get_one(User, seed.users["ana"]).email = None
    with factory() as session:
        assert session.scalars(select(AlertDelivery)).one().target == "ana@synthwatch.example"
    new_offer(factory, seed, NOW + timedelta(minutes=3), "Isotonitazene restocked")
    add_other = AnalysisRecord(
        score=0.9,
        offer=True,
        mentions=[
            MentionRecord(
                "metonitazene", "Metonitazene", "nitazene", "", 0, 12, "Metonitazene", 1.0
            )
        ],
    )
    with transaction(factory) as session:
        add_listing(
            session,
            "http://127.0.0.1:8421/item/meto",
            NOW + timedelta(minutes=3),
            source_id=seed.source_id,
            text="Metonitazene 1g",
            title="Metonitazene",
            analysis=add_other,
        )
    report = send_alerts(
        factory, settings=alert_settings(receiver, mail), clock=lambda: NOW + timedelta(minutes=10)
    )
    with factory() as session:
        rows = list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))
    assert [(r.status, r.reply) for r in rows][1] == ("failed", NO_ADDRESS)
    assert rows[0].status == "sent"  # the first one, addressed when it was raised


def test_raising_and_sending_on_both_engines(
    any_engine: Engine, receiver: Receiver, mail: MailServer
) -> None:
    factory = make_session_factory(any_engine)
    with transaction(factory) as session:
        user = create_user(session, username="ana", password=PASSWORD, role="analyst", now=NOW)
        user.email = "ana@synthwatch.example"
        upsert_source(
            session,
            source_id="demo-market",
            name="Demo Market",
            config={},
            scope_fingerprint="f" * 64,
            now=NOW,
        )
        spec = RuleSpec("nitazenes", substance_class="nitazene", channels=("email", "team-hook"))
        create_rule(session, user, spec, now=NOW)
    new_offer(factory, Seed(source_id="demo-market"), NOW + timedelta(minutes=1))
    settings = alert_settings(receiver, mail)
    report = send_alerts(factory, settings=settings, clock=clock_at(NOW + timedelta(minutes=2)))
    assert len(report.raised) == 1 and len(report.sent) == 2
    again = send_alerts(factory, settings=settings, clock=clock_at(NOW + timedelta(minutes=3)))
    assert again.raised == [] and again.sent == []
    assert len(receiver.bodies) == 1 and len(mail.handler.received) == 1
