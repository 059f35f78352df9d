"""My settings' API keys: a new key is shown once and works, a revoked one stops, another user's
is a 404, administrators have none, and every change is audited and needs the CSRF token."""

from __future__ import annotations

import hashlib

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.auth import policy_of
from review.views.api_requests import API_ROLES
from storage.models import ApiKey, AuditEvent
from tests.review.review_testkit import assert_inert, parse, post, signed_in


def make_key(client: FlaskClient, name: str = "my dashboard") -> str:
    response = post(client, "/settings/api-keys", {"name": name})
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    (token,) = parse(response).xpath("//input[@id='new-key']/@value")
    return str(token)


def api(app: Flask, token: str) -> int:
    response = app.test_client().get("/api/v1/trends", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def keys(factory: sessionmaker[Session]) -> list[ApiKey]:
    with factory() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def test_a_new_key_is_shown_once_stored_hashed_and_works(
    app: Flask, analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    token = make_key(analyst)

    (key,) = keys(factory)
    assert key.secret_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert (key.name, key.role, key.prefix) == ("my dashboard", "analyst", token[:12])
    assert api(app, token) == 200
    page = analyst.get("/settings").get_data(as_text=True)
    assert token[:12] in page and token[13:] not in page  # only the prefix, from now on
    assert 'data-state="active"' in page
    with factory() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.created"))
        assert event.actor == "ana" and event.detail["prefix"] == token[:12]
        assert event.request_id


def test_a_revoked_key_stops_working(
    app: Flask, analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    token = make_key(analyst)
    (key,) = keys(factory)

    response = post(analyst, f"/settings/api-keys/{key.id}/revoke")

    assert response.status_code == 302 and response.headers["Location"] == "/settings"
    assert api(app, token) == 401
    assert 'data-state="revoked"' in analyst.get("/settings").get_data(as_text=True)
    again = post(analyst, f"/settings/api-keys/{key.id}/revoke", {})
    assert again.status_code == 302  # said so, changed nothing
    with factory() as session:
        revoked = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "api_key.revoked")
        ).all()
    assert [(e.actor, e.object_id) for e in revoked] == [("ana", str(key.id))]


def test_another_users_key_is_not_found(
    app: Flask, analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    token = make_key(analyst)
    (key,) = keys(factory)
    legal = signed_in(app, "lee")

    assert post(legal, f"/settings/api-keys/{key.id}/revoke").status_code == 404
    assert api(app, token) == 200
    assert token[:12] not in legal.get("/settings").get_data(as_text=True)


def test_a_key_without_a_good_name_is_refused_with_the_name_kept(
    analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    make_key(analyst, "dashboard")

    taken = post(analyst, "/settings/api-keys", {"name": "dashboard"})
    empty = post(analyst, "/settings/api-keys", {"name": "  "})

    assert taken.status_code == empty.status_code == 400
    assert parse(taken).xpath("//input[@id='api-key-name']/@value") == ["dashboard"]
    assert "already" in taken.get_data(as_text=True)
    assert parse(taken).xpath("//input[@id='new-key']") == []
    assert len(keys(factory)) == 1


def test_a_key_name_is_escaped(analyst: FlaskClient) -> None:
    make_key(analyst, "<img src=x onerror=alert(1)>")
    page = parse(analyst.get("/settings"))
    assert_inert(page)
    assert page.xpath("string(//tr[@class='api-key-row']/td[1])") == (
        "<img src=x onerror=alert(1)>"
    )


def test_administrators_have_no_api_keys(admin: FlaskClient) -> None:
    page = parse(admin.get("/settings"))
    assert page.xpath("//section[@class='api-keys']") == []
    assert post(admin, "/settings/api-keys", {"name": "x"}).status_code == 403


def test_a_post_without_the_csrf_token_makes_no_key(
    analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    response = analyst.post("/settings/api-keys", data={"name": "sneaky"})
    assert response.status_code == 400
    assert keys(factory) == []


def test_every_api_route_takes_bearer_keys_of_the_roles_that_make_them(app: Flask) -> None:
    api_rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    assert len(api_rules) == 9
    for rule in api_rules:
        policy = policy_of(app.view_functions[rule.endpoint])
        assert policy is not None and policy.bearer is not None, rule
        assert policy.roles == frozenset(API_ROLES) and rule.methods == {"GET", "HEAD", "OPTIONS"}
