"""Undoing a quick decision: who may, for how long, and only while nobody acted on the case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.triage import (
    UNDO_WINDOW,
    UndoRefused,
    last_changes,
    queue_moves,
    transition_many,
    undo,
)
from review.workflow import (
    NotPermitted,
    assign,
    transition,
)
from storage.audit import verify_chain
from storage.db import transaction
from storage.models import AuditEvent, Case
from tests.review.review_testkit import NOW, Clock, Seed, parse, post
from tests.review.test_workflow import NOTES, set_state, user


def case_events(session: Session, case_id: int) -> list[tuple[str, str]]:
    query = (
        select(AuditEvent.action, AuditEvent.actor)
        .where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case_id))
        .order_by(AuditEvent.id)
    )
    return [(action, actor) for action, actor in session.execute(query)]


def confirmed_by_ana(factory: sessionmaker[Session], case_id: int) -> list[int]:
    with transaction(factory) as session:
        transition(session, case_id, "confirmed", actor=user(session, "ana"), now=NOW)
        return last_changes(session, [case_id])


def test_undo_puts_the_case_back_and_records_both_changes(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    events = confirmed_by_ana(factory, case_id)

    with transaction(factory) as session:
        undone = undo(session, events, actor=user(session, "ana"), now=NOW + timedelta(seconds=5))

    assert undone == [case_id]
    with factory() as session:
        case = session.get(Case, case_id)
        assert case.state == "new"
        assert [(d.from_state, d.to_state) for d in case.decisions] == [
            ("new", "confirmed"),
            ("confirmed", "new"),
        ]
        assert case_events(session, case_id)[-2:] == [
            ("case.confirmed", "ana"),
            ("case.undo", "ana"),
        ]
        row = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.undo")).one()
        assert row.detail["undone"] == "case.confirmed"
        assert row.detail["event_id"] == events[0]
        assert (row.detail["from"], row.detail["to"]) == ("confirmed", "new")
        assert verify_chain(session) is None


@pytest.mark.parametrize(("later", "allowed"), [(UNDO_WINDOW, True), (UNDO_WINDOW * 2, False)])
def test_undo_lasts_the_window_and_no_longer(
    factory: sessionmaker[Session], seed: Seed, later: timedelta, allowed: bool
) -> None:
    events = confirmed_by_ana(factory, seed.cases["fentanyl"])

    with transaction(factory) as session:
        if allowed:
            undo(session, events, actor=user(session, "ana"), now=NOW + later)
        else:
            with pytest.raises(UndoRefused, match="more than 30 seconds ago"):
                undo(session, events, actor=user(session, "ana"), now=NOW + later)
    with factory() as session:
        assert session.get(Case, seed.cases["fentanyl"]).state == (
            "new" if allowed else "confirmed"
        )


def test_undo_is_refused_once_someone_else_acted_on_the_case(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    events = confirmed_by_ana(factory, case_id)
    with transaction(factory) as session:
        lee = user(session, "lee")
        assign(session, case_id, assignee=lee, actor=lee, now=NOW)

    with pytest.raises(UndoRefused, match="lee acted on case"), transaction(factory) as session:
        undo(session, events, actor=user(session, "ana"), now=NOW)
    with factory() as session:
        assert session.get(Case, case_id).state == "confirmed"
        assert "case.undo" not in {action for action, _ in case_events(session, case_id)}


def test_only_the_maker_undoes_and_only_once(factory: sessionmaker[Session], seed: Seed) -> None:
    events = confirmed_by_ana(factory, seed.cases["fentanyl"])

    with pytest.raises(NotPermitted, match="only ana"), transaction(factory) as session:
        undo(session, events, actor=user(session, "lee"), now=NOW)
    with transaction(factory) as session:
        undo(session, events, actor=user(session, "ana"), now=NOW)
    with pytest.raises(UndoRefused, match="ana acted on case"), transaction(factory) as session:
        undo(session, events, actor=user(session, "ana"), now=NOW)


def test_a_legal_decision_is_not_undone(factory: sessionmaker[Session], seed: Seed) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        ana = user(session, "ana")
        transition(session, case_id, "confirmed", actor=ana, now=NOW)
        transition(session, case_id, "escalated", actor=ana, now=NOW)
        lee = user(session, "lee")
        transition(session, case_id, "approved", actor=lee, now=NOW, note=NOTES["approved"])
        events = last_changes(session, [case_id])

    refused = pytest.raises(UndoRefused, match="not one that can be undone")
    with refused, transaction(factory) as session:
        undo(session, events, actor=user(session, "lee"), now=NOW)


def test_undoing_taking_a_case_gives_it_back(factory: sessionmaker[Session], seed: Seed) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        lee = user(session, "lee")
        assign(session, case_id, assignee=lee, actor=lee, now=NOW)
    with transaction(factory) as session:
        ana = user(session, "ana")
        assign(session, case_id, assignee=ana, actor=ana, now=NOW)
        events = last_changes(session, [case_id])

    with transaction(factory) as session:
        undo(session, events, actor=user(session, "ana"), now=NOW)
    with factory() as session:
        assert session.get(Case, case_id).assignee_id == seed.users["lee"]
        row = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.undo")).one()
        assert (row.detail["from"], row.detail["to"]) == ("ana", "lee")


def test_a_bulk_change_is_undone_whole_or_not_at_all(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = [seed.cases["fentanyl"], seed.cases["nitazene"]]
    with transaction(factory) as session:
        transition_many(session, ids, "confirmed", actor=user(session, "ana"), now=NOW)
        events = last_changes(session, ids)
    with transaction(factory) as session:
        lee = user(session, "lee")
        assign(session, ids[1], assignee=lee, actor=lee, now=NOW)

    with pytest.raises(UndoRefused), transaction(factory) as session:
        undo(session, events, actor=user(session, "ana"), now=NOW)
    with factory() as session:
        assert {session.get(Case, i).state for i in ids} == {"confirmed"}


def test_the_queue_offers_only_the_moves_the_rules_allow(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    set_state(factory, seed.cases["nitazene"], "confirmed")
    set_state(factory, seed.cases["cathinone"], "referred")
    ids = [seed.cases[key] for key in ("fentanyl", "nitazene", "cathinone")]
    with transaction(factory) as session:
        ana = user(session, "ana")
        assign(session, ids[1], assignee=ana, actor=ana, now=NOW)
    with factory() as session:
        cases = [session.get(Case, i) for i in ids]
        by_ana = queue_moves(session, cases, user(session, "ana"))
        by_lee = queue_moves(session, cases, user(session, "lee"))

    assert by_ana == {
        ids[0]: ["confirmed", "dismissed", "assign"],
        ids[1]: ["escalated"],  # already hers: nothing to take
        ids[2]: [],
    }
    assert by_lee == {ids[0]: ["assign"], ids[1]: ["assign"], ids[2]: []}


# ---------------------------------------------------------------- through the app


def undo_form(client: FlaskClient) -> dict[str, list[str]]:
    page = parse(client.get("/"))
    (form,) = page.xpath("//form[contains(@class, 'undo-form')]")
    return {"event_ids": form.xpath(".//input[@name='event_ids']/@value")}


def test_the_queue_offers_the_undo_and_it_works(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    response = post(analyst, f"/cases/{case_id}/transition", {"to": "confirmed", "next": "/"})
    assert response.status_code == 302
    page = parse(analyst.get("/"))
    assert page.xpath("string(//div[@class='undo-bar']/span[@class='undo-label'])") == (
        f"Case {case_id} confirmed"
    )
    assert page.xpath("//ul[contains(@class, 'flashes')]") == []  # the undo bar says it

    undone = post(analyst, "/cases/undo", {**undo_form(analyst), "next": "/"})

    assert undone.status_code == 302
    page = parse(analyst.get("/"))
    assert f"Undone: case {case_id} is as before." in page.xpath("string(//ul[@role='status'])")
    assert page.xpath("//div[@class='undo-bar']") == []
    with factory() as session:
        assert session.get(Case, case_id).state == "new"


def test_the_undo_offer_ends_with_its_window(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, clock: Clock
) -> None:
    case_id = seed.cases["fentanyl"]
    post(analyst, f"/cases/{case_id}/assign", {"next": "/"})
    form = undo_form(analyst)
    clock.advance(UNDO_WINDOW + timedelta(seconds=1))

    assert parse(analyst.get("/")).xpath("//div[@class='undo-bar']") == []
    late = post(analyst, "/cases/undo", {**form, "next": "/"})
    assert late.status_code == 302
    message = parse(analyst.get("/")).xpath("string(//ul[@role='alert'])")
    assert "Not undone: the change to case" in message
    with factory() as session:
        assert session.get(Case, case_id).assignee_id == seed.users["ana"]


def test_the_case_page_flashes_what_the_queue_would_offer_to_undo(
    analyst: FlaskClient, seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    response = post(analyst, f"/cases/{case_id}/transition", {"to": "confirmed"})

    assert response.headers["Location"] == f"/cases/{case_id}"
    page = parse(analyst.get(f"/cases/{case_id}"))
    assert f"Case {case_id} confirmed." in page.xpath("string(//ul[@role='status'])")
