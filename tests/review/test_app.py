"""The app's secure defaults: deny by default, CSRF, headers, cookies, error pages, settings."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from review.app import create_app
from review.auth import allow, endpoints_without_policy, policy_of
from review.errors import SettingsError
from review.settings import DEFAULT_BASE_URL, ReviewSettings, base_url_from_env
from storage.models import ROLES
from tests.review.review_testkit import PASSWORD, csrf_token, login, parse


def test_every_endpoint_declares_a_role_policy(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    assert {rule.endpoint for rule in rules} >= {"login.login", "queue.index", "cases.detail"}
    assert len(rules) >= 15

    for rule in rules:
        policy = policy_of(app.view_functions[rule.endpoint])
        assert policy is not None, f"{rule.rule} ({rule.endpoint}) declares no role policy"
        assert policy.public or set(policy.roles) <= set(ROLES)
        if rule.endpoint not in ("login.login", "login.logout", "static"):
            assert not policy.public, f"{rule.rule} is public"


def test_an_endpoint_without_a_policy_is_denied(app: Flask, client: FlaskClient) -> None:
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    app.add_url_rule("/admin-only", "admin_only", allow("admin")(lambda: "for admins"))
    login(client, "ana", PASSWORD)

    assert endpoints_without_policy(app) == ["forgotten"]
    assert client.get("/forgotten").status_code == 403
    assert client.get("/admin-only").status_code == 403


def test_a_role_in_the_policy_is_let_in(app: Flask, client: FlaskClient) -> None:
    app.add_url_rule("/admin-only", "admin_only", allow("admin")(lambda: "for admins"))
    login(client, "adm", PASSWORD)

    assert client.get("/admin-only").get_data(as_text=True) == "for admins"


def test_allow_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="root"):
        allow("analyst", "root")
    with pytest.raises(ValueError):
        allow()


@pytest.mark.parametrize("path", ["/", "/?state=all", "/cases/1", "/cases/999"])
def test_anonymous_users_are_sent_to_the_login_page(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_login_without_csrf_token_is_refused_and_asked_again(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "ana", "password": PASSWORD})

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "sign in again" in parse(client.get("/login")).xpath("string(//main)")
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_is_rejected(analyst: FlaskClient) -> None:
    assert analyst.post("/logout").status_code == 400
    assert analyst.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert analyst.get("/").status_code == 200


@pytest.mark.parametrize("path", ["/login", "/", "/cases/1", "/static/review.css", "/nowhere"])
def test_every_response_carries_the_security_headers(analyst: FlaskClient, path: str) -> None:
    response = analyst.get(path)

    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_templates_autoescape_whatever_their_name(app: Flask) -> None:
    assert app.jinja_env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/..%2fapp.py", "/static/nope.css"])
def test_static_files_stay_inside_the_static_folder(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_stylesheet_is_served_to_anyone(client: FlaskClient) -> None:
    response = client.get("/static/review.css")

    assert response.status_code == 200
    assert response.mimetype == "text/css"


def test_pages_are_not_cached(analyst: FlaskClient) -> None:
    assert analyst.get("/cases/1").headers["Cache-Control"] == "no-store"


def test_the_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient) -> None:
    token = csrf_token(client)
    response = client.post(
        "/login", data={"csrf_token": token, "username": "ana", "password": PASSWORD}
    )

    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if "synthwatch_session" in c]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain HTTP on 127.0.0.1


def test_https_deployments_get_secure_cookies(factory: sessionmaker[Session]) -> None:
    settings = ReviewSettings(secret_key="k" * 48, base_url="https://review.example")
    app = create_app(factory, settings)

    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_pages_have_no_inline_style_or_script(analyst: FlaskClient) -> None:
    for path in ("/", "/cases/1", "/sources", "/login"):
        page = parse(analyst.get(path))
        assert page.xpath("//style | //*[@style] | //script[not(@src)]") == []
        for src in page.xpath("//script/@src"):
            assert src.startswith("/static/"), src


def test_the_keyboard_script_is_served_from_static(client: FlaskClient) -> None:
    response = client.get("/static/triage.js")

    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")


def test_a_missing_page_renders_a_friendly_404(analyst: FlaskClient) -> None:
    response = analyst.get("/cases/999")

    assert response.status_code == 404
    assert parse(response).xpath("string(//h1)").split() == ["404", "Not", "found"]


def test_an_unexpected_error_renders_a_page_without_the_trace(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> str:
        raise RuntimeError("secret internals /etc/passwd")

    app.add_url_rule("/boom", "boom", allow("analyst")(boom))
    login(client, "ana", PASSWORD)

    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")

    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    assert "secret internals" not in body
    assert "500" in parse(response).xpath("string(//h1)")
    assert "secret internals" in caplog.text
    assert response.headers["Content-Security-Policy"]


def test_settings_make_a_random_secret_key_when_none_is_set_and_there_is_no_home(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    environ = {"SYNTHWATCH_HOME": str(tmp_path / "missing")}
    with caplog.at_level(logging.WARNING):
        first = ReviewSettings.from_env(environ)
        second = ReviewSettings.from_env(environ)

    assert first.secret_key != second.secret_key
    assert len(first.secret_key) >= 32
    assert "SYNTHWATCH_SECRET_KEY" in caplog.text
    assert first.base_url == DEFAULT_BASE_URL
    assert first.session_lifetime == timedelta(hours=8)


def test_settings_read_the_environment() -> None:
    settings = ReviewSettings.from_env(
        {
            "SYNTHWATCH_SECRET_KEY": "s" * 40,
            "SYNTHWATCH_BASE_URL": "https://review.example/",
            "SYNTHWATCH_SESSION_HOURS": "2",
        }
    )

    assert settings.secret_key == "s" * 40
    assert settings.base_url == "https://review.example"
    assert settings.session_lifetime == timedelta(hours=2)
    assert settings.secure_cookies


def test_the_base_url_is_read_without_a_secret_key(caplog: pytest.LogCaptureFixture) -> None:
    assert base_url_from_env({}) == DEFAULT_BASE_URL
    assert base_url_from_env({"SYNTHWATCH_BASE_URL": "https://r.example/"}) == "https://r.example"
    assert caplog.text == ""


@pytest.mark.parametrize(
    "environ",
    [
        {"SYNTHWATCH_SECRET_KEY": "short"},
        {"SYNTHWATCH_BASE_URL": "ftp://x"},
        {"SYNTHWATCH_SESSION_HOURS": "forever"},
        {"SYNTHWATCH_SESSION_HOURS": "0"},
    ],
)
def test_settings_refuse_unusable_values(environ: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SYNTHWATCH_"):
        ReviewSettings.from_env({"SYNTHWATCH_HOME": str(tmp_path), **environ})
