"""The case workflow: legal and refused transitions, four eyes, notes, atomicity with the audit."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from review import workflow
from review.users import create_user
from review.workflow import (
    TRANSITIONS,
    IllegalTransition,
    NoteRequired,
    NotPermitted,
    StaleState,
    Unassignable,
    allowed_transitions,
    assign,
    dismiss_many,
    transition,
)
from storage.audit import verify_chain
from storage.db import transaction
from storage.models import CASE_STATES, AuditEvent, Case, CaseDecision, User
from tests.review.review_testkit import NOW, PASSWORD, Seed, parse, post, signed_in

NOTES = {
    "dismissed": "duplicate of another case",
    "approved": "public offer of a Schedule II substance; referral to the national unit",
    "rejected": "not enough to act on",
    "referred": "NCA-2026-1142",
}


def user(session: Session, name: str) -> User:
    found = session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def set_state(factory: sessionmaker[Session], case_id: int, state: str) -> None:
    with transaction(factory) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.state = state


def counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        return (
            session.scalar(select(func.count(CaseDecision.id))) or 0,
            session.scalar(select(func.count(AuditEvent.id))) or 0,
        )


@pytest.fixture
def second_legal(factory: sessionmaker[Session], seed: Seed) -> str:
    with transaction(factory) as session:
        create_user(session, username="lena", password=PASSWORD, role="legal", now=NOW)
    return "lena"


def test_a_case_goes_all_the_way_and_every_step_is_recorded(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    steps = [
        ("ana", "confirmed", ""),
        ("ana", "escalated", "strong offer"),
        ("lee", "approved", NOTES["approved"]),
        ("lee", "referred", NOTES["referred"]),
    ]
    for number, (name, to_state, note) in enumerate(steps):
        with transaction(factory) as session:
            transition(
                session,
                case_id,
                to_state,
                actor=user(session, name),
                now=NOW + timedelta(minutes=number),
                note=note,
                request_id=f"req-{number}",
            )

    with factory() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.state == "referred"
        assert case.updated_at == NOW + timedelta(minutes=3)
        decisions = [(d.from_state, d.to_state, d.actor.username, d.note) for d in case.decisions]
        assert decisions == [
            ("new", "confirmed", "ana", ""),
            ("confirmed", "escalated", "ana", "strong offer"),
            ("escalated", "approved", "lee", NOTES["approved"]),
            ("approved", "referred", "lee", NOTES["referred"]),
        ]
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "case", AuditEvent.action != "case.opened")
            .order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.actor, e.object_id, e.request_id) for e in events] == [
            ("case.confirmed", "ana", str(case_id), "req-0"),
            ("case.escalated", "ana", str(case_id), "req-1"),
            ("case.approved", "lee", str(case_id), "req-2"),
            ("case.referred", "lee", str(case_id), "req-3"),
        ]
        assert events[2].detail == {
            "from": "escalated",
            "to": "approved",
            "note": NOTES["approved"],
            "decision_id": case.decisions[2].id,
        }
        assert verify_chain(session) is None


ILLEGAL = [(a, b) for a, b in product(CASE_STATES, CASE_STATES) if (a, b) not in TRANSITIONS]


@pytest.mark.parametrize(("from_state", "to_state"), ILLEGAL)
def test_every_illegal_transition_is_refused_and_writes_nothing(
    factory: sessionmaker[Session], seed: Seed, from_state: str, to_state: str
) -> None:
    case_id = seed.cases["fentanyl"]
    set_state(factory, case_id, from_state)
    before = counts(factory)

    with factory() as session:
        actor = user(session, "lee" if from_state == "escalated" else "ana")
        with pytest.raises(IllegalTransition, match=f"case {case_id} is {from_state}"):
            transition(session, case_id, to_state, actor=actor, now=NOW, note="a note")
        session.commit()

    assert counts(factory) == before
    with factory() as session:
        assert session.get(Case, case_id).state == from_state


SEED_ROLES = {"ana": "analyst", "lee": "legal", "adm": "admin"}
WRONG_ROLES = [
    (from_state, to_state, name)
    for (from_state, to_state), rule in TRANSITIONS.items()
    for name, role in SEED_ROLES.items()
    if role not in rule.roles
]


@pytest.mark.parametrize(("from_state", "to_state", "name"), WRONG_ROLES)
def test_each_transition_needs_its_role(
    factory: sessionmaker[Session], seed: Seed, from_state: str, to_state: str, name: str
) -> None:
    case_id = seed.cases["fentanyl"]
    set_state(factory, case_id, from_state)
    with factory() as session:
        actor = user(session, name)
        with pytest.raises(NotPermitted, match="role"):
            transition(
                session, case_id, to_state, actor=actor, now=NOW, note=NOTES.get(to_state, "")
            )


def test_a_disabled_user_changes_nothing(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session, pytest.raises(NotPermitted):
        transition(
            session, seed.cases["fentanyl"], "confirmed", actor=user(session, "old"), now=NOW
        )


def escalate(factory: sessionmaker[Session], case_id: int, by: str = "ana") -> None:
    for to_state in ("confirmed", "escalated"):
        with transaction(factory) as session:
            transition(session, case_id, to_state, actor=user(session, by), now=NOW)


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_whoever_escalated_never_decides(
    factory: sessionmaker[Session], seed: Seed, second_legal: str, decision: str
) -> None:
    case_id = seed.cases["fentanyl"]
    escalate(factory, case_id)
    with transaction(factory) as session:
        user(session, "ana").role = "legal"  # promoted since: still the same person

    with factory() as session:
        promoted = user(session, "ana")
        assert decision not in allowed_transitions(session, session.get(Case, case_id), promoted)
        with pytest.raises(NotPermitted, match="another legal reviewer"):
            transition(session, case_id, decision, actor=promoted, now=NOW, note="ok")
    with transaction(factory) as session:
        transition(
            session, case_id, decision, actor=user(session, second_legal), now=NOW, note="ok"
        )


def test_an_escalation_without_its_record_cant_be_decided(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    set_state(factory, seed.cases["fentanyl"], "escalated")
    with factory() as session, pytest.raises(NotPermitted, match="no recorded escalation"):
        transition(
            session,
            seed.cases["fentanyl"],
            "approved",
            actor=user(session, "lee"),
            now=NOW,
            note="basis",
        )


@pytest.mark.parametrize(("from_state", "to_state"), [k for k, r in TRANSITIONS.items() if r.note])
@pytest.mark.parametrize("note", ["", "   \n "])
def test_notes_are_required_where_they_matter(
    factory: sessionmaker[Session], seed: Seed, from_state: str, to_state: str, note: str
) -> None:
    case_id = seed.cases["fentanyl"]
    if from_state == "escalated":
        escalate(factory, case_id)
    else:
        set_state(factory, case_id, from_state)
    actor = "lee" if from_state in ("escalated", "approved") else "ana"
    needs = TRANSITIONS[(from_state, to_state)].note
    with factory() as session, pytest.raises(NoteRequired, match=needs):
        transition(session, case_id, to_state, actor=user(session, actor), now=NOW, note=note)


def test_a_very_long_note_is_refused(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session, pytest.raises(NoteRequired, match="at most"):
        transition(
            session,
            seed.cases["fentanyl"],
            "dismissed",
            actor=user(session, "ana"),
            now=NOW,
            note="x" * 5000,
        )


def test_a_failing_audit_row_takes_the_change_with_it(
    factory: sessionmaker[Session], seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(workflow, "append_event", broken)
    before = counts(factory)

    with pytest.raises(RuntimeError, match="disk full"), transaction(factory) as session:
        transition(
            session, seed.cases["fentanyl"], "confirmed", actor=user(session, "ana"), now=NOW
        )

    assert counts(factory) == before
    with factory() as session:
        assert session.get(Case, seed.cases["fentanyl"]).state == "new"


def test_a_failure_before_commit_leaves_neither_change_nor_audit_row(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    before = counts(factory)

    with pytest.raises(ZeroDivisionError), transaction(factory) as session:
        transition(
            session, seed.cases["fentanyl"], "confirmed", actor=user(session, "ana"), now=NOW
        )
        assert session.get(Case, seed.cases["fentanyl"]).state == "confirmed"
        _ = 1 / 0  # anything failing after the change, before the commit

    assert counts(factory) == before
    with factory() as session:
        assert session.get(Case, seed.cases["fentanyl"]).state == "new"
        assert verify_chain(session) is None


def test_a_failure_in_the_app_leaves_the_case_untouched(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, monkeypatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(workflow, "append_event", broken)
    before = counts(factory)

    response = post(analyst, f"/cases/{seed.cases['fentanyl']}/transition", {"to": "confirmed"})

    assert response.status_code == 500
    assert counts(factory) == before
    with factory() as session:
        assert session.get(Case, seed.cases["fentanyl"]).state == "new"


def test_a_change_made_meanwhile_wins_and_the_late_one_is_refused(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    with factory() as late:
        seen = late.get(Case, case_id)  # read, and kept, before the other change
        assert seen is not None and seen.state == "new"
        late.commit()  # a request's reads end; the object it read stays as it was
        with transaction(factory) as first:
            transition(first, case_id, "confirmed", actor=user(first, "ana"), now=NOW)

        with pytest.raises(StaleState, match="changed meanwhile"):
            transition(late, case_id, "dismissed", actor=user(late, "ana"), now=NOW, note="dup")
        late.rollback()

    with factory() as session:
        case = session.get(Case, case_id)
        assert case.state == "confirmed"
        assert [d.to_state for d in case.decisions] == ["confirmed"]


def test_bulk_dismiss_is_all_or_nothing(factory: sessionmaker[Session], seed: Seed) -> None:
    set_state(factory, seed.cases["cathinone"], "confirmed")
    ids = [seed.cases["fentanyl"], seed.cases["nitazene"], seed.cases["cathinone"]]

    with pytest.raises(IllegalTransition), transaction(factory) as session:
        dismiss_many(session, ids, actor=user(session, "ana"), now=NOW, note="duplicates")
    with factory() as session:
        assert {session.get(Case, i).state for i in ids[:2]} == {"new"}

    with transaction(factory) as session:
        dismiss_many(session, ids[:2], actor=user(session, "ana"), now=NOW, note="duplicates")
    with factory() as session:
        assert {session.get(Case, i).state for i in ids[:2]} == {"dismissed"}


def test_taking_and_giving_back_a_case(factory: sessionmaker[Session], seed: Seed) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        ana = user(session, "ana")
        assign(session, case_id, assignee=ana, actor=ana, now=NOW)
    with transaction(factory) as session:
        assert session.get(Case, case_id).assignee_id == seed.users["ana"]
        assign(session, case_id, assignee=None, actor=user(session, "ana"), now=NOW)
    with factory() as session:
        assert session.get(Case, case_id).assignee_id is None
        # Anyone may be given a case but users who don't work cases (see test_assign.py).
        with pytest.raises(Unassignable):
            assign(
                session, case_id, assignee=user(session, "adm"), actor=user(session, "ana"), now=NOW
            )
        with pytest.raises(NotPermitted):
            adm = user(session, "adm")
            assign(session, case_id, assignee=adm, actor=adm, now=NOW)
        actions = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "case.assigned")
        ).all()
        assert actions == [{"from": None, "to": "ana"}, {"from": "ana", "to": None}]


# ---------------------------------------------------------------- through the app


def test_the_legal_reviewer_decides_on_the_case_page(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    escalate(factory, case_id)
    legal = signed_in(app, "lee")

    page = parse(legal.get(f"/cases/{case_id}"))
    assert page.xpath("//form[contains(@class, 'action')]//input[@name='to']/@value") == [
        "approved",
        "rejected",
    ]
    assert page.xpath(
        "//form[contains(@class, 'action-approved')]//textarea[@name='note']/@required"
    )
    no_note = post(legal, f"/cases/{case_id}/transition", {"to": "approved"})
    assert no_note.status_code == 400
    assert "legal basis" in parse(no_note).xpath("string(//main)")
    # The case page again, its forms ready for a second try.
    assert parse(no_note).xpath("//form[contains(@class, 'action-approved')]")

    response = post(legal, f"/cases/{case_id}/transition", {"to": "approved", "note": "basis X"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/cases/{case_id}"
    page = parse(legal.get(f"/cases/{case_id}"))
    assert page.xpath("string(//span[contains(@class, 'state-badge')])") == "approved"
    assert "basis X" in page.xpath("string(//section[@class='decisions'])")


def test_a_refused_transition_in_the_app_is_a_denial_in_the_audit(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    legal = signed_in(app, "lee")

    response = post(legal, f"/cases/{seed.cases['fentanyl']}/transition", {"to": "confirmed"})

    assert response.status_code == 403
    with factory() as session:
        (denial,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.denied"))
        assert denial.actor == "lee"
        assert "analyst role" in denial.detail["reason"]
        assert denial.request_id


def test_an_illegal_transition_in_the_app_is_a_conflict(analyst: FlaskClient, seed: Seed) -> None:
    response = post(analyst, f"/cases/{seed.cases['fentanyl']}/transition", {"to": "referred"})

    assert response.status_code == 409
    assert "can't become referred" in parse(response).xpath("string(//main)")


def test_bulk_dismiss_from_the_queue(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = [seed.cases["fentanyl"], seed.cases["cathinone"]]
    page = parse(analyst.get("/"))
    form = page.xpath("//form[@id='bulk-form']")[0]
    assert form.get("action") == "/cases/bulk"

    response = analyst.post(
        "/cases/bulk",
        data={
            "csrf_token": form.xpath(".//input[@name='csrf_token']/@value")[0],
            "case_ids": [str(i) for i in ids],
            "action": "dismiss",
            "reason": "not a controlled substance or precursor",
            "note": "lab supplies",
            "next": "/?state=new",
            "confirmed": "1",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/?state=new"
    with factory() as session:
        notes = {session.get(Case, i).decisions[-1].note for i in ids}
    assert notes == {"not a controlled substance or precursor — lab supplies"}
    remaining = parse(analyst.get("/")).xpath("//tr[@class='case']/@data-case-id")
    assert {int(i) for i in remaining}.isdisjoint(ids)
