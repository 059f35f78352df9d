"""The legal gate of sources as `review.sources` enforces it for the app and the CLI alike."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from review.errors import ApprovalError, NotFoundError
from review.sources import (
    approve_source,
    record_proposal,
    registered_source,
    source_scope,
    suspend_source,
)
from storage.audit import verify_chain
from storage.models import AuditEvent, User
from storage.sources import approval_state, upsert_source
from storage.users import create_user

CONFIG = {
    "seeds": ["https://shop.example/"],
    "allowed_domains": ["shop.example"],
    "search_templates": [],
    "schedule": "interval:1d",
}


@pytest.fixture
def shop(session: Session, now: datetime) -> str:
    upsert_source(
        session,
        source_id="shop",
        name="Invented shop",
        config=CONFIG,
        scope_fingerprint="scope-1",
        now=now,
    )
    return "shop"


def user(session: Session, now: datetime, role: str, *, active: bool = True) -> User:
    made = create_user(session, username=f"u-{role}", password_hash="x", role=role, now=now)
    made.active = active
    return made


def events(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_the_scope_has_every_key_even_when_the_source_lacks_one() -> None:
    assert source_scope(CONFIG) == {
        "allowed_domains": ["shop.example"],
        "seeds": ["https://shop.example/"],
        "sitemaps": [],
        "search_templates": [],
    }


def test_a_proposal_is_audited_with_its_scope(session: Session, now: datetime, shop: str) -> None:
    assert record_proposal(session, shop, now=now) == "unapproved"
    (event,) = events(session)
    assert (event.action, event.object_id, event.actor) == ("source.proposed", "shop", "system")
    assert event.detail == {"scope_fingerprint": "scope-1", "scope": source_scope(CONFIG)}


def test_an_unknown_source_is_named(session: Session, now: datetime) -> None:
    with pytest.raises(NotFoundError, match="no source 'nowhere'"):
        registered_source(session, "nowhere")
    with pytest.raises(NotFoundError, match="no source 'nowhere'"):
        approve_source(
            session,
            source_id="nowhere",
            approver=user(session, now, "legal"),
            legal_basis="Public",
            fingerprint="scope-1",
            now=now,
        )


def test_a_legal_approval_is_audited_with_the_request(
    session: Session, now: datetime, shop: str
) -> None:
    legal = user(session, now, "legal")
    approval = approve_source(
        session,
        source_id=shop,
        approver=legal,
        legal_basis=" Public ",
        fingerprint="scope-1",
        now=now,
        request_id="r1",
    )

    assert approval.legal_basis == "Public"
    assert approval_state(session, shop, "scope-1") == "approved"
    (event,) = events(session)
    assert (event.action, event.actor, event.request_id) == ("source.approved", "u-legal", "r1")
    assert event.detail == {"scope_fingerprint": "scope-1", "legal_basis": " Public "}
    assert verify_chain(session) is None


@pytest.mark.parametrize(("role", "active"), [("analyst", True), ("admin", True), ("legal", False)])
def test_only_an_active_legal_user_approves(
    session: Session, now: datetime, shop: str, role: str, active: bool
) -> None:
    approver = user(session, now, role, active=active)
    with pytest.raises(ApprovalError, match="active user with the legal role"):
        approve_source(
            session,
            source_id=shop,
            approver=approver,
            legal_basis="x",
            fingerprint="scope-1",
            now=now,
        )
    assert approval_state(session, shop, "scope-1") == "unapproved"
    assert events(session) == []


def test_an_approval_needs_a_legal_basis(session: Session, now: datetime, shop: str) -> None:
    with pytest.raises(ApprovalError, match="legal basis"):
        approve_source(
            session,
            source_id=shop,
            approver=user(session, now, "legal"),
            legal_basis=" ",
            fingerprint="scope-1",
            now=now,
        )


@pytest.mark.parametrize("role", ["legal", "admin"])
def test_a_legal_or_admin_user_suspends_until_approved_again(
    session: Session, now: datetime, shop: str, role: str
) -> None:
    legal = user(session, now, "legal")
    approve_source(
        session,
        source_id=shop,
        approver=legal,
        legal_basis="Public",
        fingerprint="scope-1",
        now=now,
    )
    actor = legal if role == "legal" else user(session, now, role)
    suspend_source(session, source_id=shop, actor=actor, reason=" site changed ", now=now)

    assert approval_state(session, shop, "scope-1") == "suspended"
    event = events(session)[-1]
    assert (event.action, event.actor, event.detail) == (
        "source.suspended",
        f"u-{role}",
        {"reason": "site changed"},
    )
    approve_source(
        session,
        source_id=shop,
        approver=legal,
        legal_basis="Public",
        fingerprint="scope-1",
        now=now,
    )
    assert approval_state(session, shop, "scope-1") == "approved"


def test_an_analyst_never_suspends_and_a_reason_is_needed(
    session: Session, now: datetime, shop: str
) -> None:
    with pytest.raises(ApprovalError, match="legal or admin role"):
        suspend_source(
            session, source_id=shop, actor=user(session, now, "analyst"), reason="x", now=now
        )
    with pytest.raises(ApprovalError, match="needs a reason"):
        suspend_source(
            session, source_id=shop, actor=user(session, now, "admin"), reason=" ", now=now
        )
    assert approval_state(session, shop, "scope-1") == "unapproved"


def test_an_approval_is_refused_when_the_scope_changed_after_it_was_shown(
    session: Session, now: datetime, shop: str
) -> None:
    legal = user(session, now, "legal")
    shown = registered_source(session, shop).scope_fingerprint
    # Between showing the scope and pressing the button, a wider scope is registered.
    wider = {**CONFIG, "allowed_domains": ["shop.example", "elsewhere.example"]}
    upsert_source(
        session,
        source_id=shop,
        name="Invented shop",
        config=wider,
        scope_fingerprint="scope-2",
        now=now,
    )

    with pytest.raises(ApprovalError, match="changed since it was shown") as refused:
        approve_source(
            session,
            source_id=shop,
            approver=legal,
            legal_basis="Public",
            fingerprint=shown,
            now=now,
        )

    assert "scope-2" in str(refused.value) and "scope-1" in str(refused.value)
    assert approval_state(session, shop, "scope-2") == "unapproved"
    assert registered_source(session, shop).approvals == []
    assert events(session) == []


def test_an_approval_binds_the_fingerprint_it_was_given(
    session: Session, now: datetime, shop: str
) -> None:
    approval = approve_source(
        session,
        source_id=shop,
        approver=user(session, now, "legal"),
        legal_basis="Public",
        fingerprint="scope-1",
        now=now,
    )

    assert approval.scope_fingerprint == "scope-1"
    assert events(session)[-1].detail["scope_fingerprint"] == "scope-1"
