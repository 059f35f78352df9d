"""A session that ends loses no typed work; the secret key in $SYNTHWATCH_HOME survives restarts."""

from __future__ import annotations

import json
import logging
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.app import create_app
from review.errors import SettingsError
from review.kept_form import COOKIE, SALT
from review.settings import SECRET_KEY_FILE, ReviewSettings
from storage.models import AuditEvent, Case
from tests.review.review_testkit import (
    PASSWORD,
    Clock,
    Seed,
    csrf_token,
    parse,
    signed_in,
)

NOTE = "Seller reposted the same offer under a new handle; duplicate of case 1 — ünïcode kept"


def case_form(client: FlaskClient, case_id: int) -> dict[str, str]:
    """Return the dismiss form of a case page as a browser would post it, with a typed note."""
    page = parse(client.get(f"/cases/{case_id}"))
    (form,) = page.xpath("//form[contains(@class, 'action-dismissed')]")
    fields = {i.get("name"): i.get("value") or "" for i in form.xpath(".//input[@type='hidden']")}
    return {**fields, "reason": "", "note": NOTE}


def kept_fields(client: FlaskClient, path: str) -> list[list[str]] | None:
    """Return the fields the page at ``path`` gives back, or None when it gives back none."""
    boxes = parse(client.get(path)).xpath("//*[@id='kept-form']")
    return json.loads(boxes[0].get("data-fields")) if boxes else None


def sign_in_at(client: FlaskClient, login_path: str, username: str = "ana") -> str:
    """Sign in through a login page that names where to go next; return where it sends."""
    token = csrf_token(client, login_path)
    response = client.post(
        login_path, data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return response.location


def case_state(factory: sessionmaker[Session], case_id: int) -> str:
    with factory() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.state


def test_a_form_posted_after_the_idle_timeout_comes_back_after_signing_in(
    analyst: FlaskClient, clock: Clock, seed: Seed, factory: sessionmaker[Session]
) -> None:
    case_id = seed.cases["fentanyl"]
    form = case_form(analyst, case_id)
    clock.advance(timedelta(minutes=31))

    response = analyst.post(f"/cases/{case_id}/transition", data=form)

    assert response.status_code == 302
    assert response.location == f"/login?next=/cases/{case_id}"
    assert case_state(factory, case_id) == "new"  # nothing was done
    message = parse(analyst.get(response.location)).xpath("string(//ul[@role='status'])")
    assert "Your session ended; sign in to continue." in message

    back = sign_in_at(analyst, response.location)

    assert back == f"/cases/{case_id}"
    kept = kept_fields(analyst, back)
    assert kept is not None and ["note", NOTE] in kept and ["to", "dismissed"] in kept
    assert case_state(factory, case_id) == "new"  # never replayed: the user sends it again
    assert kept_fields(analyst, back) is None  # shown once


def test_the_kept_form_is_given_back_to_the_same_user_only(
    analyst: FlaskClient, clock: Clock, seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    form = case_form(analyst, case_id)
    clock.advance(timedelta(minutes=31))
    response = analyst.post(f"/cases/{case_id}/transition", data=form)

    sign_in_at(analyst, response.location, "lee")

    assert analyst.get_cookie(COOKIE) is None
    assert kept_fields(analyst, f"/cases/{case_id}") is None


def test_a_form_posted_after_a_restart_with_another_key_comes_back(
    analyst: FlaskClient,
    factory: sessionmaker[Session],
    settings: ReviewSettings,
    clock: Clock,
    seed: Seed,
) -> None:
    case_id = seed.cases["fentanyl"]
    form = case_form(analyst, case_id)
    restarted = create_app(factory, ReviewSettings(secret_key="n" * 48), clock=clock)
    browser = restarted.test_client()
    cookie = analyst.get_cookie("synthwatch_session")
    assert cookie is not None
    browser.set_cookie("synthwatch_session", cookie.value)

    response = browser.post(f"/cases/{case_id}/transition", data=form)

    assert response.location == f"/login?next=/cases/{case_id}"
    assert sign_in_at(browser, response.location) == f"/cases/{case_id}"
    kept = kept_fields(browser, f"/cases/{case_id}")
    assert kept is not None and ["note", NOTE] in kept
    with factory() as session:
        failed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.csrf_failed")
        ).one()
    assert failed.actor == "system" and failed.detail["signed_in"] is False


def test_input_of_an_unreadable_session_goes_to_its_page_s_user_only(
    analyst: FlaskClient, factory: sessionmaker[Session], clock: Clock, seed: Seed
) -> None:
    """A shared browser: after a restart with another key, a colleague signing in next gets
    nothing of what the analyst had typed."""
    case_id = seed.cases["fentanyl"]
    form = case_form(analyst, case_id)
    assert form["form_user"] == "ana"
    restarted = create_app(factory, ReviewSettings(secret_key="n" * 48), clock=clock)
    browser = restarted.test_client()
    cookie = analyst.get_cookie("synthwatch_session")
    assert cookie is not None
    browser.set_cookie("synthwatch_session", cookie.value)

    response = browser.post(f"/cases/{case_id}/transition", data=form)
    sign_in_at(browser, response.location, "lee")

    assert browser.get_cookie(COOKIE) is None
    assert kept_fields(browser, f"/cases/{case_id}") is None


def test_the_kept_form_expires(analyst: FlaskClient, clock: Clock, seed: Seed) -> None:
    case_id = seed.cases["fentanyl"]
    form = case_form(analyst, case_id)
    clock.advance(timedelta(minutes=31))
    response = analyst.post(f"/cases/{case_id}/transition", data=form)
    clock.advance(timedelta(minutes=16))

    sign_in_at(analyst, response.location)

    assert kept_fields(analyst, f"/cases/{case_id}") is None


def test_a_password_is_never_kept(
    legal: FlaskClient, clock: Clock, seed: Seed, settings: ReviewSettings
) -> None:
    clock.advance(timedelta(minutes=31))
    response = legal.post(
        f"/sources/{seed.source_id}/approve",
        data={
            "csrf_token": csrf_token(legal, "/login"),
            "form_page": "/sources",
            "basis": "public marketplace, no login",
            "password": PASSWORD,
        },
    )

    assert response.location == "/login?next=/sources"
    cookie = legal.get_cookie(COOKIE)
    assert cookie is not None
    payload: dict[str, Any] = URLSafeSerializer(settings.secret_key, salt=SALT).loads(cookie.value)
    assert payload["fields"] == [["basis", "public marketplace, no login"]]
    assert PASSWORD not in json.dumps(payload)


def test_a_form_page_that_is_no_page_sends_the_user_home(
    analyst: FlaskClient, clock: Clock, seed: Seed
) -> None:
    clock.advance(timedelta(minutes=31))

    response = analyst.post(
        f"/cases/{seed.cases['fentanyl']}/transition",
        data={"csrf_token": "x", "form_page": "//elsewhere.example/", "note": "n"},
    )

    assert response.location == "/login"
    assert analyst.get_cookie(COOKIE) is None


def test_an_expired_login_form_asks_to_sign_in_again(app: Flask) -> None:
    client = app.test_client()

    response = client.post(
        "/login?next=/sources", data={"csrf_token": "stale", "username": "ana", "password": "x"}
    )

    assert response.location == "/login?next=/sources"
    message = parse(client.get(response.location)).xpath("string(//ul[@role='status'])")
    assert "sign in again" in message


def test_a_csrf_failure_of_a_live_session_is_a_plain_error_page(
    analyst: FlaskClient, seed: Seed
) -> None:
    response = analyst.post(
        f"/cases/{seed.cases['fentanyl']}/transition", data={"csrf_token": "forged", "to": "x"}
    )

    assert response.status_code == 400
    page = parse(response)
    assert "out of date" in page.xpath("string(//p[@class='message'])")
    assert "CSRF" not in response.get_data(as_text=True)
    assert page.xpath("string(//a[@class='back'])") == "Back to the queue"


# ---------------------------------------------------------------- the secret key file


def test_the_secret_key_is_kept_in_home_readable_by_its_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {"SYNTHWATCH_HOME": str(tmp_path)}
    with caplog.at_level(logging.WARNING):
        first = ReviewSettings.from_env(environ)
        second = ReviewSettings.from_env(environ)

    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    path = tmp_path / SECRET_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first.secret_key
    assert caplog.text == ""
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]  # no temporary file left


def test_the_environment_key_wins_over_the_file(tmp_path: Path) -> None:
    settings = ReviewSettings.from_env(
        {"SYNTHWATCH_HOME": str(tmp_path), "SYNTHWATCH_SECRET_KEY": "e" * 40}
    )

    assert settings.secret_key == "e" * 40
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_a_short_key_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / SECRET_KEY_FILE).write_text("short\n")

    with pytest.raises(SettingsError, match=SECRET_KEY_FILE):
        ReviewSettings.from_env({"SYNTHWATCH_HOME": str(tmp_path)})


def test_a_session_survives_a_restart_with_the_key_in_home(
    factory: sessionmaker[Session], seed: Seed, clock: Clock, tmp_path: Path
) -> None:
    environ = {"SYNTHWATCH_HOME": str(tmp_path)}
    before = create_app(factory, ReviewSettings.from_env(environ), clock=clock)
    cookie = signed_in(before, "ana").get_cookie("synthwatch_session")
    assert cookie is not None

    after = create_app(factory, ReviewSettings.from_env(environ), clock=clock).test_client()
    after.set_cookie("synthwatch_session", cookie.value)

    assert after.get("/").status_code == 200
