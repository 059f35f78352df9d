"""Managing users with `review.users`: each change and its audit row, for the CLI and the app."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from review.errors import NotFoundError, SettingsError, UserError
from review.users import (
    create_user,
    disable_user,
    find_user,
    set_role,
    subscribe_digest,
    unsubscribe_digest,
)
from storage.audit import verify_chain
from storage.models import AuditEvent
from tests.review.review_testkit import PASSWORD


def audit(session: Session) -> list[tuple[str, dict[str, object]]]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    return [(e.action, e.detail) for e in session.scalars(query)]


def test_each_change_of_a_user_is_audited(session: Session, now: datetime) -> None:
    ana = create_user(session, username="ana", password=PASSWORD, role="analyst", now=now)
    set_role(session, ana, "legal", now=now)
    subscribe_digest(session, "ana", " Ana <ana@team.example> ", now=now)
    unsubscribe_digest(session, ana, now=now)
    disable_user(session, ana, now=now)

    assert (ana.role, ana.email, ana.digest_subscribed, ana.active) == (
        "legal",
        "Ana <ana@team.example>",
        False,
        False,
    )
    assert audit(session) == [
        ("user.created", {"username": "ana", "role": "analyst"}),
        ("user.role_changed", {"from": "analyst", "to": "legal"}),
        ("digest.subscribed", {"username": "ana", "email": "Ana <ana@team.example>"}),
        ("digest.unsubscribed", {"username": "ana"}),
        ("user.disabled", {}),
    ]
    assert verify_chain(session) is None


def test_an_unknown_user_is_named(session: Session, now: datetime) -> None:
    with pytest.raises(NotFoundError, match="no user 'nobody'"):
        find_user(session, "nobody")
    with pytest.raises(NotFoundError, match="no user 'nobody'"):
        subscribe_digest(session, "nobody", "n@team.example", now=now)


def test_an_unknown_role_is_refused(session: Session, now: datetime) -> None:
    ana = create_user(session, username="ana", password=PASSWORD, role="analyst", now=now)
    with pytest.raises(UserError, match="role 'root'"):
        set_role(session, ana, "root", now=now)
    assert ana.role == "analyst"


def test_a_disabled_user_gets_no_digest(session: Session, now: datetime) -> None:
    gone = create_user(session, username="gone", password=PASSWORD, role="analyst", now=now)
    disable_user(session, gone, now=now)
    with pytest.raises(UserError, match="disabled and gets no digest"):
        subscribe_digest(session, "gone", "gone@team.example", now=now)
    assert not gone.digest_subscribed


def test_a_digest_address_must_be_one_address(session: Session, now: datetime) -> None:
    create_user(session, username="ana", password=PASSWORD, role="analyst", now=now)
    with pytest.raises(SettingsError, match="e-mail address"):
        subscribe_digest(session, "ana", "a@team.example, b@team.example", now=now)
