"""Who may do what: every route of the app, for every kind of visitor, answers as the policy says.

The matrix names each route of ``app.url_map``; a route added without a row here fails the
walk, and a route whose view declares no policy is refused by the app itself (see test_app).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.users import create_user
from storage.db import transaction
from storage.models import AuditEvent, Capture, Case, User
from tests.review.review_testkit import NOW, PASSWORD, Seed, csrf_token, session_token, signed_in

VISITORS = ("anonymous", "analyst", "legal", "admin", "disabled")
R, OK, FORBIDDEN = 302, 200, 403  # R: to the login page, or back after a change


@dataclass(frozen=True)
class Row:
    method: str
    endpoint: str
    path: Callable[[Seed, int], str]
    expected: dict[str, int]
    data: dict[str, Any] | None = None


def codes(anonymous: int, analyst: int, legal: int, admin: int, disabled: int) -> dict[str, int]:
    return dict(zip(VISITORS, (anonymous, analyst, legal, admin, disabled), strict=True))


def case(seed: Seed) -> int:
    return seed.cases["fentanyl"]


MATRIX = [
    Row("GET", "queue.index", lambda s, c: "/", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "cases.detail", lambda s, c: f"/cases/{case(s)}", codes(R, OK, OK, FORBIDDEN, R)),
    Row(
        "GET",
        "cases.capture",
        lambda s, c: f"/cases/{case(s)}/captures/{c}",
        codes(R, OK, OK, FORBIDDEN, R),
    ),
    # A new case has no referral yet: the roles that may export are told so (409).
    Row(
        "GET",
        "exports.referral",
        lambda s, c: f"/cases/{case(s)}/referral.zip",
        codes(R, 409, 409, FORBIDDEN, R),
    ),
    # Nobody confirmed the new case: it is not shared as a MISP event (409).
    Row(
        "GET",
        "exports.misp",
        lambda s, c: f"/cases/{case(s)}/misp.json",
        codes(R, 409, 409, FORBIDDEN, R),
    ),
    Row(
        "POST",
        "actions.change_state",
        lambda s, c: f"/cases/{case(s)}/transition",
        codes(R, R, FORBIDDEN, FORBIDDEN, R),
        {"to": "confirmed"},
    ),
    Row(
        "POST",
        "actions.take",
        lambda s, c: f"/cases/{case(s)}/assign",
        codes(R, R, R, FORBIDDEN, R),
    ),
    Row(
        "POST",
        "actions.comment",
        lambda s, c: f"/cases/{case(s)}/comments",
        codes(R, R, R, FORBIDDEN, R),
        {"body": "Same seller as last week's case."},
    ),
    Row(
        "POST",
        "actions.bulk",
        lambda s, c: "/cases/bulk",
        codes(R, R, FORBIDDEN, FORBIDDEN, R),
        {
            "case_ids": "CASE",
            "action": "dismiss",
            "reason": "duplicate of another case",
            "confirmed": "1",
        },
    ),
    # Nothing to undo: the queue again, saying so.
    Row(
        "POST",
        "actions.undo_change",
        lambda s, c: "/cases/undo",
        codes(R, R, R, FORBIDDEN, R),
        {"event_ids": "1"},
    ),
    Row("GET", "exports.cases", lambda s, c: "/exports/cases.csv", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "exports.cases", lambda s, c: "/exports/cases.json", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "exports.cases", lambda s, c: "/exports/cases.stix", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "listings.index", lambda s, c: "/listings", codes(R, OK, OK, FORBIDDEN, R)),
    Row(
        "GET",
        "listings.detail",
        lambda s, c: f"/listings/{s.listings['news']}",
        codes(R, OK, OK, FORBIDDEN, R),
    ),
    Row(
        "GET",
        "listings.capture",
        lambda s, c: f"/listings/{s.listings['fentanyl']}/captures/{c}",
        codes(R, OK, OK, FORBIDDEN, R),
    ),
    Row(
        "POST",
        "listings.open_case",
        lambda s, c: f"/listings/{s.listings['news']}/case",
        codes(R, R, FORBIDDEN, FORBIDDEN, R),
        {"reason": "an offer the scorer missed"},
    ),
    Row("GET", "trends.index", lambda s, c: "/trends", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "trends.chart", lambda s, c: "/trends/chart.png", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "sources.index", lambda s, c: "/sources", codes(R, OK, OK, OK, R)),
    Row(
        "POST",
        "sources.approve",
        lambda s, c: f"/sources/{s.source_id}/approve",
        codes(R, FORBIDDEN, R, FORBIDDEN, R),
        {
            "basis": "public marketplace; research exemption",
            "fingerprint": "f" * 64,
            "password": PASSWORD,
        },
    ),
    Row(
        "POST",
        "sources.suspend",
        lambda s, c: f"/sources/{s.source_id}/suspend",
        codes(R, FORBIDDEN, R, R, R),
        {"reason": "complaint from the site"},
    ),
    Row("GET", "audit.index", lambda s, c: "/audit", codes(R, FORBIDDEN, FORBIDDEN, OK, R)),
    Row("GET", "outbox.index", lambda s, c: "/outbox", codes(R, FORBIDDEN, FORBIDDEN, OK, R)),
    Row(
        "GET",
        "audit.export",
        lambda s, c: "/audit/export.jsonl",
        codes(R, FORBIDDEN, FORBIDDEN, OK, R),
    ),
    Row(
        "GET",
        "audit.checkpoint_file",
        lambda s, c: "/audit/checkpoint.json",
        codes(R, FORBIDDEN, FORBIDDEN, OK, R),
    ),
    Row("GET", "account.settings", lambda s, c: "/settings", codes(R, OK, OK, OK, R)),
    Row(
        "POST",
        "account.set_zone",
        lambda s, c: "/settings/time-zone",
        codes(R, R, R, R, R),
        {"time_zone": "Europe/Berlin"},
    ),
    Row(
        "POST",
        "account.save",
        lambda s, c: "/filters",
        codes(R, R, R, FORBIDDEN, R),
        {"name": "my new cases", "query": "state=new"},
    ),
    # Nobody has a saved filter 999: a 404 for the roles that may have one.
    Row(
        "GET", "account.open_filter", lambda s, c: "/filters/999", codes(R, 404, 404, FORBIDDEN, R)
    ),
    Row(
        "POST",
        "account.delete",
        lambda s, c: "/filters/999/delete",
        codes(R, 404, 404, FORBIDDEN, R),
    ),
    Row("GET", "login.login", lambda s, c: "/login", codes(OK, R, R, R, OK)),
    Row("POST", "login.logout", lambda s, c: "/logout", codes(R, R, R, R, R)),
    Row("GET", "static", lambda s, c: "/static/review.css", codes(OK, OK, OK, OK, OK)),
]


IDS_OF_LISTINGS = {"news": 0, "fentanyl": 0}  # stand-ins for the test ids


def test_the_matrix_covers_every_route_and_method(app: Flask) -> None:
    routes = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    covered = {(row.method, row.endpoint) for row in MATRIX}
    # The login form's POST is the login itself, tested with the authentication.
    assert routes - covered == {("POST", "login.login")}
    assert covered <= routes


def visitor(app: Flask, factory: sessionmaker[Session], kind: str) -> tuple[FlaskClient, str]:
    """Return a client of this kind of visitor and a CSRF token of its session."""
    if kind == "anonymous":
        client = app.test_client()
        return client, csrf_token(client)
    if kind == "disabled":
        with transaction(factory) as session:
            create_user(session, username="gone", password=PASSWORD, role="analyst", now=NOW)
        client = signed_in(app, "gone")
        token = session_token(client)
        with transaction(factory) as session:
            user = session.scalar(select(User).where(User.username == "gone"))
            assert user is not None
            user.active = False
        return client, token
    username = {"analyst": "ana", "legal": "lee", "admin": "adm"}[kind]
    client = signed_in(app, username)
    return client, session_token(client)


@pytest.mark.parametrize("kind", VISITORS)
@pytest.mark.parametrize(
    "row",
    MATRIX,
    ids=[
        f"{row.method} {row.path(Seed(cases={'fentanyl': 0}, listings=IDS_OF_LISTINGS), 0)}"
        for row in MATRIX
    ],
)
def test_each_visitor_gets_what_the_policy_says(
    app: Flask, factory: sessionmaker[Session], seed: Seed, row: Row, kind: str
) -> None:
    client, token = visitor(app, factory, kind)
    with factory() as session:
        capture_id = session.scalar(
            select(Capture.id)
            .join(Case, Case.listing_id == Capture.listing_id)
            .where(Case.id == seed.cases["fentanyl"])
        )
        denials_before = _denials(session)
    path = row.path(seed, capture_id or 0)

    if row.method == "GET":
        response = client.get(path)
    else:
        data = {
            k: (str(seed.cases["fentanyl"]) if v == "CASE" else v)
            for k, v in (row.data or {}).items()
        }
        response = client.post(path, data={"csrf_token": token, **data})

    assert response.status_code == row.expected[kind], response.get_data(as_text=True)[:300]
    if kind in ("anonymous", "disabled") and response.status_code == R and path != "/logout":
        assert response.headers["Location"].startswith("/login")
    with factory() as session:
        denials = _denials(session) - denials_before
    assert denials == (1 if response.status_code == FORBIDDEN else 0)


def _denials(session: Session) -> int:
    return len(
        session.scalars(select(AuditEvent.id).where(AuditEvent.action == "auth.denied")).all()
    )
