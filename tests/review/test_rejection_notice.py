"""The analyst hears when legal rejects what they escalated: a queue notice, until the rework."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from review.users import create_user
from review.workflow import transition
from storage.db import transaction
from storage.notices import rejected_escalations
from tests.review.review_testkit import NOW, PASSWORD, XSS_TITLE, Seed, parse, post, signed_in
from tests.review.test_workflow import escalate, user

REASON = "Not enough to act on:\nthe price is a quote from a news story."


@pytest.fixture
def bea(factory: sessionmaker[Session], seed: Seed) -> str:
    """A second analyst."""
    with transaction(factory) as session:
        create_user(session, username="bea", password=PASSWORD, role="analyst", now=NOW)
    return "bea"


def reject(factory: sessionmaker[Session], case_id: int, reason: str = REASON) -> None:
    with transaction(factory) as session:
        later = NOW + timedelta(hours=1)
        transition(session, case_id, "rejected", actor=user(session, "lee"), now=later, note=reason)


def rework(factory: sessionmaker[Session], case_id: int, by: str = "ana") -> None:
    with transaction(factory) as session:
        transition(session, case_id, "confirmed", actor=user(session, by), now=NOW)


def notice(app: Flask, username: str) -> list[str]:
    """Return the queue notice's heading and its lines, or [] without one."""
    page = parse(signed_in(app, username).get("/"))
    found = page.xpath("//section[@class='rejected-notice']")
    if not found:
        return []
    lines = [" ".join(li.text_content().split()) for li in found[0].xpath(".//li")]
    return [found[0].xpath("string(.//h2)"), *lines]


def test_the_escalating_analyst_alone_sees_the_rejection_until_the_rework(
    app: Flask, factory: sessionmaker[Session], seed: Seed, bea: str
) -> None:
    fentanyl, nitazene, cathinone = (seed.cases[k] for k in ("fentanyl", "nitazene", "cathinone"))
    escalate(factory, fentanyl)
    escalate(factory, nitazene)  # still waiting for legal: no notice
    escalate(factory, cathinone, by="bea")
    reject(factory, fentanyl)
    reject(factory, cathinone, "duplicate")

    ana_page = parse(signed_in(app, "ana").get("/"))
    (section,) = ana_page.xpath("//section[@class='rejected-notice']")
    assert section.xpath("string(.//h2)") == "Legal rejected 1 of the cases you escalated"
    assert section.xpath(".//a/@href") == [f"/cases/{fentanyl}"]
    assert section.xpath("string(.//a)") == f"Case {fentanyl}: Fentanyl powder 99% (50g)"
    assert section.xpath("string(.//q[@class='rejection-reason'])") == REASON
    assert "rejected by lee, 2026" in section.xpath("string(.//li)")
    heading, line = notice(app, "bea")
    assert heading == "Legal rejected 1 of the cases you escalated"
    assert line.startswith(f"Case {cathinone}: 4-MMC crystals — rejected by lee, ")
    assert line.endswith(": duplicate")
    assert notice(app, "lee") == []

    rework(factory, fentanyl)

    assert notice(app, "ana") == []
    assert len(notice(app, "bea")) == 2


def test_the_notice_counts_and_lists_every_rejected_case(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    for key in ("fentanyl", "xss"):
        escalate(factory, seed.cases[key])
        reject(factory, seed.cases[key], XSS_TITLE)

    lines = notice(app, "ana")

    assert lines[0] == "Legal rejected 2 of the cases you escalated"
    assert len(lines) == 3
    assert all(line.endswith(XSS_TITLE) for line in lines[1:])  # escaped text, not markup


def test_the_notice_goes_to_whoever_escalated_last(
    factory: sessionmaker[Session], seed: Seed, bea: str
) -> None:
    case_id = seed.cases["fentanyl"]
    escalate(factory, case_id)
    reject(factory, case_id, "first look")
    rework(factory, case_id, by="bea")
    with transaction(factory) as session:
        transition(session, case_id, "escalated", actor=user(session, "bea"), now=NOW)
    reject(factory, case_id, "second look")

    with factory() as session:
        assert rejected_escalations(session, seed.users["ana"]) == []
        (found,) = rejected_escalations(session, user(session, "bea").id)
    assert (found.case_id, found.rejected_by, found.reason) == (case_id, "lee", "second look")


def test_a_reason_written_in_the_textarea_keeps_its_line_breaks(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    escalate(factory, case_id)
    legal = signed_in(app, "lee")
    page = parse(legal.get(f"/cases/{case_id}"))
    assert page.xpath("//form[contains(@class, 'action-rejected')]//textarea[@name='note']")

    response = post(
        legal,
        f"/cases/{case_id}/transition",
        {"to": "rejected", "note": REASON.replace("\n", "\r\n")},
    )

    assert response.status_code == 302
    with factory() as session:
        assert rejected_escalations(session, seed.users["ana"])[0].reason == REASON


def test_a_refused_basis_is_shown_again_in_its_textarea(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    escalate(factory, case_id)
    legal = signed_in(app, "lee")
    basis = "b" * 4001

    response = post(legal, f"/cases/{case_id}/transition", {"to": "approved", "note": basis})

    assert response.status_code == 400
    page = parse(response)
    assert "at most 4000" in page.xpath("string(//ul[contains(@class, 'flash-errors')])")
    form = "//form[contains(@class, 'action-{}')]//textarea[@name='note']"
    assert page.xpath(f"string({form.format('approved')})") == basis
    assert page.xpath(f"string({form.format('rejected')})") == ""
