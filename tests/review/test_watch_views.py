"""The watch rules pages: make, change, disable and enable one's own rules; bad values shown
again with their reason; CSRF; other users' rules and other roles refused; each change
audited; the alerts of a rule and the admins' alert outbox; the XSS corpus in every field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.alerts.deliver import raise_alerts
from review.alerts.settings import AlertSettings
from storage import watch as storage_watch
from storage.db import transaction
from storage.listings import AnalysisRecord, MentionRecord
from storage.models import AuditEvent, WatchRule
from storage.text_search import SearchSyntaxError, parse_search
from tests.factories import add_listing
from tests.review.review_testkit import (
    NOW,
    XSS_TITLE,
    Clock,
    Seed,
    assert_inert,
    parse,
    post,
    session_token,
    signed_in,
)

PAYLOADS = [
    line
    for line in (Path(__file__).parents[1] / "fixtures" / "xss_payloads.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line
]


def rule_form(**values: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Nitazenes on the market",
        "substance": "",
        "class": "nitazene",
        "search": "",
        "seller": "",
        "source": "",
        "min_score": "",
    }
    form.update(values)
    return form


def rules(factory: sessionmaker[Session]) -> list[WatchRule]:
    with factory() as session:
        return list(session.scalars(select(WatchRule).order_by(WatchRule.id)))


def actions(factory: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with factory() as session:
        query = (
            select(AuditEvent.action, AuditEvent.request_id)
            .where(AuditEvent.object_type == "watch_rule")
            .order_by(AuditEvent.id)
        )
        return [(action, request_id) for action, request_id in session.execute(query)]


def errors_of(response: object) -> list[str]:
    page = parse(response)  # type: ignore[arg-type]
    return [e.text_content() for e in page.xpath("//ul[@role='alert']/li")]


def test_an_analyst_makes_a_rule_and_sees_it_listed(
    analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    response = post(
        analyst,
        "/watch/new",
        rule_form(substance="Isotonitazene", search='"pure powder" OR crystal*', min_score="0.8"),
    )
    assert response.status_code == 302
    (rule,) = rules(factory)
    assert response.headers["Location"] == f"/watch/{rule.id}"
    assert (rule.concept_id, rule.substance_class) == ("isotonitazene", "nitazene")
    assert (rule.search, rule.min_score, rule.channels) == ('"pure powder" OR crystal*', 0.8, [])
    assert rule.since == NOW and rule.active
    assert [a for a, _ in actions(factory)] == ["watch.rule_created"]
    assert actions(factory)[0][1]  # the request's id
    page = parse(analyst.get("/watch"))
    (row,) = page.xpath("//tr[contains(@class, 'watch-rule')]")
    assert "Nitazenes on the market" in row.text_content()
    assert "substance Isotonitazene" in row.text_content()
    detail = parse(analyst.get(f"/watch/{rule.id}"))
    assert detail.xpath("string(//input[@name='substance']/@value)") == "Isotonitazene"
    assert "No alerts yet" in detail.text_content()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"class": "fairy_dust"}, "There is no substance class “fairy_dust”."),
        ({"search": "fentanyl AND"}, None),  # the search grammar's own message
        ({"search": '"unclosed (x'}, None),
        (
            {"min_score": "high"},
            "“Score at least” is a number from 0 to 1, such as 0.8, not “high”.",
        ),
        ({"min_score": "1.5"}, "“Score at least” is a number from 0 to 1, such as 0.8, not “1.5”."),
        ({"min_score": "nan"}, "“Score at least” is a number from 0 to 1, such as 0.8, not “nan”."),
        ({"substance": "unobtainium"}, "There is no substance “unobtainium” in the lexicon"),
        ({"seller": "12a"}, "A seller is a number, such as 12, not “12a”."),
        ({"seller": "999"}, "There is no seller 999."),
        ({"source": "nowhere"}, "There is no source “nowhere”."),
        ({"class": "", "name": "nothing"}, "Set at least one condition"),
        ({"name": "   "}, "Give the rule a name."),
        ({"channels": "email"}, "You have no e-mail address to get alerts at"),
        ({"channels": "pager"}, "There is no alert channel “pager”."),
    ],
)
def test_a_bad_value_is_shown_again_with_its_reason(
    analyst: FlaskClient,
    factory: sessionmaker[Session],
    values: dict[str, str],
    message: str | None,
) -> None:
    if message is None:
        with pytest.raises(SearchSyntaxError) as raised:
            parse_search(values["search"])
        message = str(raised.value)
    response = post(analyst, "/watch/new", rule_form(**values))
    assert response.status_code == 400
    assert any(e.startswith(message) for e in errors_of(response)), errors_of(response)
    page = parse(response)
    for key, value in values.items():
        if key in ("name", "search", "substance", "seller", "min_score"):
            assert page.xpath(f"string(//input[@name='{key}']/@value)") == value.strip()
    assert rules(factory) == []
    assert actions(factory) == []


def test_changing_disabling_and_enabling_a_rule(
    analyst: FlaskClient, factory: sessionmaker[Session], clock: Clock
) -> None:
    post(analyst, "/watch/new", rule_form())
    (rule,) = rules(factory)
    clock.advance(timedelta(minutes=5))
    bad = post(analyst, f"/watch/{rule.id}/edit", rule_form(min_score="-1", name="renamed"))
    assert bad.status_code == 400
    assert "not “-1”" in " ".join(errors_of(bad))
    assert parse(bad).xpath("string(//input[@name='name']/@value)") == "renamed"
    assert rules(factory)[0].name == "Nitazenes on the market"
    good = post(analyst, f"/watch/{rule.id}/edit", rule_form(source="demo-market", min_score="0.5"))
    assert good.status_code == 302
    (changed,) = rules(factory)
    assert (changed.source_id, changed.min_score, changed.since) == (
        "demo-market",
        0.5,
        NOW + timedelta(minutes=5),
    )
    assert post(analyst, f"/watch/{rule.id}/disable").status_code == 302
    assert not rules(factory)[0].active
    page = parse(analyst.get(f"/watch/{rule.id}"))
    assert "Disabled" in page.xpath("string(//div[@class='rule-state'])")
    assert post(analyst, f"/watch/{rule.id}/enable").status_code == 302
    assert rules(factory)[0].active
    assert [a for a, _ in actions(factory)] == [
        "watch.rule_created",
        "watch.rule_changed",
        "watch.rule_disabled",
        "watch.rule_enabled",
    ]


def test_a_form_without_its_csrf_token_changes_nothing(
    analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    response = analyst.post("/watch/new", data=rule_form())
    assert response.status_code == 400
    response = analyst.post("/watch/new", data={**rule_form(), "csrf_token": "forged"})
    assert response.status_code == 400
    assert rules(factory) == []


def test_rules_are_their_owners_and_other_roles_are_refused(
    app: Flask, analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    post(analyst, "/watch/new", rule_form())
    (rule,) = rules(factory)
    legal = signed_in(app, "lee")
    assert legal.get(f"/watch/{rule.id}").status_code == 404
    assert post(legal, f"/watch/{rule.id}/edit", rule_form(name="mine now")).status_code == 404
    assert post(legal, f"/watch/{rule.id}/disable").status_code == 404
    assert legal.get("/watch").status_code == 200  # a legal reviewer's own (empty) list
    assert "Nitazenes" not in legal.get("/watch").get_data(as_text=True)
    admin = signed_in(app, "adm")
    assert admin.get("/watch").status_code == 403
    assert post(admin, "/watch/new", rule_form()).status_code == 403
    assert analyst.get("/alerts/outbox").status_code == 403
    assert rules(factory)[0].name == "Nitazenes on the market" and rules(factory)[0].active


def new_offer(factory: sessionmaker[Session], seed: Seed, path: str, title: str) -> None:
    text = f"{title} protonitazene 5g"
    mention = MentionRecord(
        "protonitazene",
        "Protonitazene",
        "nitazene",
        "",
        len(title) + 1,
        len(title) + 14,
        "protonitazene",
        1.0,
    )
    with transaction(factory) as session:
        add_listing(
            session,
            f"http://127.0.0.1:8421/{path}",
            NOW + timedelta(minutes=1),
            source_id=seed.source_id,
            text=text,
            title=title,
            analysis=AnalysisRecord(score=0.9, offer=True, mentions=[mention]),
        )


def test_a_rules_alerts_and_the_alert_outbox(
    app: Flask,
    analyst: FlaskClient,
    factory: sessionmaker[Session],
    seed: Seed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNTHWATCH_ALERT_CHANNELS", "team-hook=json://127.0.0.1:9/hook")
    page = parse(analyst.get("/watch"))
    assert page.xpath("//input[@name='channels']/@value") == ["email", "team-hook"]
    post(analyst, "/watch/new", rule_form(channels="team-hook"))
    (rule,) = rules(factory)
    assert rule.channels == ["team-hook"]
    new_offer(factory, seed, "item/new-1", XSS_TITLE)
    with transaction(factory) as session:
        report = raise_alerts(
            session,
            now=NOW + timedelta(minutes=2),
            settings=AlertSettings(channels={"team-hook": "json://127.0.0.1:9/hook"}),
        )
    assert len(report.raised) == 1  # the seeded nitazene case was there before the rule
    page = analyst.get(f"/watch/{rule.id}")
    parsed = parse(page)
    assert_inert(parsed)
    (row,) = parsed.xpath("//tr[@class='watch-alert']")
    assert XSS_TITLE in row.text_content()
    assert "team-hook: pending" in row.text_content()
    assert "1" in parse(analyst.get("/watch")).xpath("string(//tr[@data-rule-id]/td[3])")
    admin = signed_in(app, "adm")
    outbox = admin.get("/alerts/outbox?status=pending")
    assert outbox.status_code == 200
    assert "team-hook" in parse(outbox).xpath("string(//table)")
    assert admin.get("/alerts/outbox?status=bogus").status_code == 400


def test_every_payload_in_a_rules_name_and_search_renders_inert(
    analyst: FlaskClient, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_watch, "MAX_RULES_PER_USER", 1000)
    token = session_token(analyst)

    def inert(response: object, payload: str) -> lxml.html.HtmlElement:
        parsed = parse(response)  # type: ignore[arg-type]
        try:
            assert_inert(parsed)
        except AssertionError as error:
            raise AssertionError(f"payload {payload!r}: {error}") from error
        return parsed

    saved = refused = 0
    for payload in PAYLOADS:
        data = {**rule_form(name=payload[:120], search=payload), "csrf_token": token}
        response = analyst.post("/watch/new", data=data)
        parsed = inert(response, payload)
        if response.status_code == 302:
            saved += 1
            detail = inert(analyst.get(response.headers["Location"]), payload)
            assert " ".join(payload[:120].split()) in detail.xpath("string(//h1)")
        else:
            assert response.status_code == 400
            refused += 1
            shown = parsed.xpath("string(//input[@name='search']/@value)")
            assert shown == payload.strip()[:300]
        # A substance the lexicon does not know: named, as text, in the message.
        data = {**rule_form(substance=payload[:60]), "csrf_token": token}
        response = analyst.post("/watch/new", data=data)
        assert response.status_code == 400
        inert(response, payload)
    assert saved > 100 and refused > 10  # both pages, many times each
    inert(analyst.get("/watch"), "the list of rules")
