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
from storage.api_keys import create_api_key
from storage.db import transaction
from storage.models import AuditEvent, Capture, Case, User
from tests.review.review_testkit import NOW, PASSWORD, Seed, csrf_token, session_token, signed_in

VISITORS = ("anonymous", "analyst", "legal", "admin", "disabled")
R, OK, FORBIDDEN = 302, 200, 403  # R: to the login page, or back after a change
UNAUTHORIZED = 401  # the JSON API's answer to a request without a key it accepts


@dataclass(frozen=True)
class Row:
    method: str
    endpoint: str
    path: Callable[[Seed, int], str]
    expected: dict[str, int]
    data: dict[str, Any] | None = None
    # The JSON API's: visitors send an API key of their own (`Authorization: Bearer`), cookies
    # or not; anonymous visitors none.
    bearer: bool = False


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
    # Nobody made cluster 999: a 404 for the roles the routes let in.
    Row("GET", "clusters.detail", lambda s, c: "/clusters/999", codes(R, 404, 404, FORBIDDEN, R)),
    Row(
        "POST",
        "clusters.change_state",
        lambda s, c: "/clusters/999/transition",
        codes(R, 404, 404, FORBIDDEN, R),
        {"to": "confirmed"},
    ),
    Row(
        "POST",
        "clusters.split",
        lambda s, c: "/clusters/999/split",
        codes(R, 404, FORBIDDEN, FORBIDDEN, R),
        {"listing_id": "1"},
    ),
    Row("GET", "trends.index", lambda s, c: "/trends", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "trends.chart", lambda s, c: "/trends/chart.png", codes(R, OK, OK, FORBIDDEN, R)),
    # Seller 1 is the seed's one seller (the fentanyl offer's wickr handle): merging a seller 2
    # into it, splitting its only identifier and undoing a change nobody made are refused (409).
    Row("GET", "sellers.index", lambda s, c: "/sellers", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "sellers.common", lambda s, c: "/sellers/common", codes(R, OK, OK, FORBIDDEN, R)),
    Row("GET", "sellers.detail", lambda s, c: "/sellers/1", codes(R, OK, OK, FORBIDDEN, R)),
    # No case of seller 1 is confirmed: it is not shared as a MISP event (409).
    Row(
        "GET", "sellers.misp", lambda s, c: "/sellers/1/misp.json", codes(R, 409, 409, FORBIDDEN, R)
    ),
    Row(
        "POST",
        "sellers.merge",
        lambda s, c: "/sellers/1/merge",
        codes(R, 409, FORBIDDEN, FORBIDDEN, R),
        {"other": "2", "note": "same photos"},
    ),
    Row(
        "POST",
        "sellers.split",
        lambda s, c: "/sellers/1/split",
        codes(R, 409, FORBIDDEN, FORBIDDEN, R),
        {"key": "wickr:chemking"},
    ),
    Row(
        "POST",
        "sellers.undo",
        lambda s, c: "/sellers/changes/999/undo",
        codes(R, 409, FORBIDDEN, FORBIDDEN, R),
    ),
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
    Row("GET", "watch.index", lambda s, c: "/watch", codes(R, OK, OK, FORBIDDEN, R)),
    Row(
        "POST",
        "watch.create",
        lambda s, c: "/watch/new",
        codes(R, R, R, FORBIDDEN, R),
        {"name": "new nitazenes", "class": "nitazene"},
    ),
    # Nobody has a watch rule 999: a 404 for the roles that may have one.
    Row("GET", "watch.detail", lambda s, c: "/watch/999", codes(R, 404, 404, FORBIDDEN, R)),
    Row(
        "POST",
        "watch.edit",
        lambda s, c: "/watch/999/edit",
        codes(R, 404, 404, FORBIDDEN, R),
        {"name": "new nitazenes", "class": "nitazene"},
    ),
    Row(
        "POST", "watch.disable", lambda s, c: "/watch/999/disable", codes(R, 404, 404, FORBIDDEN, R)
    ),
    Row("POST", "watch.enable", lambda s, c: "/watch/999/enable", codes(R, 404, 404, FORBIDDEN, R)),
    Row(
        "GET", "watch.outbox", lambda s, c: "/alerts/outbox", codes(R, FORBIDDEN, FORBIDDEN, OK, R)
    ),
    Row(
        "POST",
        "api_keys.create",
        lambda s, c: "/settings/api-keys",
        codes(R, 201, 201, FORBIDDEN, R),
        {"name": "a script of mine"},
    ),
    # Nobody has an API key 999: a 404 for the roles that may have one.
    Row(
        "POST",
        "api_keys.revoke",
        lambda s, c: "/settings/api-keys/999/revoke",
        codes(R, 404, 404, FORBIDDEN, R),
    ),
    *(
        Row(
            "GET",
            f"api.{name}",
            path,
            codes(UNAUTHORIZED, OK, OK, FORBIDDEN, UNAUTHORIZED),
            bearer=True,
        )
        for name, path in (
            ("cases", lambda s, c: "/api/v1/cases"),
            ("case", lambda s, c: f"/api/v1/cases/{case(s)}"),
            ("listings", lambda s, c: "/api/v1/listings"),
            ("listing", lambda s, c: f"/api/v1/listings/{s.listings['news']}"),
            ("sellers", lambda s, c: "/api/v1/sellers"),
            ("seller", lambda s, c: "/api/v1/sellers/1"),
            ("clusters", lambda s, c: "/api/v1/clusters"),
            ("trends", lambda s, c: "/api/v1/trends"),
        )
    ),
    # Nobody made cluster 999: a 404 for the roles the API lets in.
    Row(
        "GET",
        "api.cluster",
        lambda s, c: "/api/v1/clusters/999",
        codes(UNAUTHORIZED, 404, 404, FORBIDDEN, UNAUTHORIZED),
        bearer=True,
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


def api_key_header(factory: sessionmaker[Session], kind: str) -> dict[str, str]:
    """Return the Authorization header of an API key of this kind of visitor (none: anonymous)."""
    if kind == "anonymous":
        return {}
    username = {"analyst": "ana", "legal": "lee", "admin": "adm", "disabled": "gone"}[kind]
    with transaction(factory) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        active, user.active = user.active, True  # a key made before the user was disabled
        _key, token = create_api_key(session, user, name="access matrix", now=NOW)
        user.active = active
    return {"Authorization": f"Bearer {token}"}


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
    headers = api_key_header(factory, kind) if row.bearer else {}

    if row.method == "GET":
        response = client.get(path, headers=headers)
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
