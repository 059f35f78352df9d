"""Assigning a case to a colleague: who may, to whom, the audit row, the case page's form, undo."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.triage import last_changes, undo
from review.users import create_user
from review.workflow import IllegalTransition, NotPermitted, Unassignable, assign, transition
from storage.db import transaction
from storage.models import AuditEvent, Case
from tests.review.review_testkit import NOW, PASSWORD, Seed, parse, post, signed_in
from tests.review.test_workflow import user


@pytest.fixture
def bea(factory: sessionmaker[Session], seed: Seed) -> str:
    """A second analyst."""
    with transaction(factory) as session:
        create_user(session, username="bea", password=PASSWORD, role="analyst", now=NOW)
    return "bea"


def assignee(factory: sessionmaker[Session], case_id: int) -> str | None:
    with factory() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.assignee.username if case.assignee else None


def assignments(factory: sessionmaker[Session]) -> list[tuple[str, object, object]]:
    with factory() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.assigned").order_by(AuditEvent.id)
        )
        return [(e.actor, e.detail["from"], e.detail["to"]) for e in rows]


# ---------------------------------------------------------------- the rule


def test_anyone_who_works_cases_assigns_to_any_colleague_or_nobody(
    factory: sessionmaker[Session], seed: Seed, bea: str
) -> None:
    case_id = seed.cases["fentanyl"]
    for actor, to in (("ana", "lee"), ("lee", "bea"), ("bea", "ana"), ("ana", None)):
        with transaction(factory) as session:
            given = user(session, to) if to else None
            assign(session, case_id, assignee=given, actor=user(session, actor), now=NOW)
        assert assignee(factory, case_id) == to

    assert assignments(factory) == [
        ("ana", None, "lee"),
        ("lee", "lee", "bea"),
        ("bea", "bea", "ana"),
        ("ana", "ana", None),
    ]


@pytest.mark.parametrize("to", ["adm", "old"])
def test_admins_and_disabled_users_are_given_no_case(
    factory: sessionmaker[Session], seed: Seed, to: str
) -> None:
    refused = pytest.raises(Unassignable, match=f"{to} can't be given cases")
    with refused, transaction(factory) as session:
        assign(
            session,
            seed.cases["fentanyl"],
            assignee=user(session, to),
            actor=user(session, "ana"),
            now=NOW,
        )
    assert assignments(factory) == []


@pytest.mark.parametrize("actor", ["adm", "old"])
def test_admins_and_disabled_users_assign_nothing(
    factory: sessionmaker[Session], seed: Seed, actor: str
) -> None:
    with pytest.raises(NotPermitted), transaction(factory) as session:
        assign(
            session,
            seed.cases["fentanyl"],
            assignee=user(session, "ana"),
            actor=user(session, actor),
            now=NOW,
        )
    assert assignments(factory) == []


def test_a_closed_case_is_given_to_nobody(factory: sessionmaker[Session], seed: Seed) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        transition(session, case_id, "dismissed", actor=user(session, "ana"), now=NOW, note="dup")

    with pytest.raises(IllegalTransition), transaction(factory) as session:
        assign(session, case_id, assignee=user(session, "lee"), actor=user(session, "ana"), now=NOW)


def test_assigning_to_a_colleague_can_be_undone(factory: sessionmaker[Session], seed: Seed) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        ana = user(session, "ana")
        assign(session, case_id, assignee=user(session, "lee"), actor=ana, now=NOW)
        events = last_changes(session, [case_id])

    with pytest.raises(NotPermitted), transaction(factory) as session:
        undo(session, events, actor=user(session, "lee"), now=NOW)  # only its maker undoes it
    with transaction(factory) as session:
        undo(session, events, actor=user(session, "ana"), now=NOW)

    assert assignee(factory, case_id) is None


# ---------------------------------------------------------------- through the app


def test_the_case_page_offers_every_colleague_and_nobody(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, bea: str
) -> None:
    case_id = seed.cases["fentanyl"]
    post(analyst, f"/cases/{case_id}/assign", {"assignee": "lee"})

    page = parse(analyst.get(f"/cases/{case_id}"))

    (form,) = page.xpath("//form[contains(@class, 'action-assign-to')]")
    assert form.get("action") == f"/cases/{case_id}/assign"
    # Active analysts and legal reviewers only: no admin, no disabled user.
    assert form.xpath(".//select[@name='assignee']/option/@value") == ["", "ana", "bea", "lee"]
    assert form.xpath(".//option[@selected]/@value") == ["lee"]
    assert page.xpath("string(//span[@class='assignee']/strong)") == "lee"


@pytest.mark.parametrize("who", ["ana", "lee"])
def test_an_analyst_or_legal_reviewer_assigns_a_colleague(
    app: Flask, factory: sessionmaker[Session], seed: Seed, bea: str, who: str
) -> None:
    case_id = seed.cases["fentanyl"]
    client = signed_in(app, who)

    response = post(client, f"/cases/{case_id}/assign", {"assignee": "bea"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/cases/{case_id}"
    assert assignee(factory, case_id) == "bea"
    assert assignments(factory) == [(who, None, "bea")]
    page = parse(client.get(f"/cases/{case_id}"))
    assert f"Case {case_id} assigned to bea." in page.xpath("string(//ul[@class='flashes'])")

    response = post(client, f"/cases/{case_id}/assign", {"assignee": ""})

    assert response.status_code == 302
    assert assignee(factory, case_id) is None
    assert assignments(factory)[-1] == (who, "bea", None)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ghost", "there is no user 'ghost'"),
        ("adm", "adm can't be given cases"),
        ("old", "old can't be given cases"),
    ],
)
def test_a_name_that_is_no_colleague_shows_the_page_again(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, name: str, message: str
) -> None:
    case_id = seed.cases["fentanyl"]

    response = post(analyst, f"/cases/{case_id}/assign", {"assignee": name})

    assert response.status_code == 400
    page = parse(response)
    errors = page.xpath("string(//ul[contains(@class, 'flash-errors')])")
    assert f"Case {case_id} was not assigned: {message}" in errors
    assert page.xpath("//form[contains(@class, 'action-assign-to')]")
    assert assignments(factory) == []
    with factory() as session:
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.denied")).all()
            == []
        )


def test_an_admin_assigning_is_refused_and_audited(
    admin: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    response = post(admin, f"/cases/{seed.cases['fentanyl']}/assign", {"assignee": "ana"})

    assert response.status_code == 403
    assert assignments(factory) == []


def test_the_queue_offers_to_undo_an_assignment_made_on_the_case_page(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    post(analyst, f"/cases/{case_id}/assign", {"assignee": "lee"})

    queue = parse(analyst.get("/"))
    assert queue.xpath("string(//span[@class='undo-label'])") == f"Case {case_id} assigned to lee"
    event_ids = queue.xpath(
        "//form[contains(@class, 'undo-form')]//input[@name='event_ids']/@value"
    )
    response = post(analyst, "/cases/undo", {"event_ids": event_ids})

    assert response.status_code == 302
    assert assignee(factory, case_id) is None
