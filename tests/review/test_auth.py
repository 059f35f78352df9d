"""Logging in and out, the audit of attempts, disabled users and the session's life."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.auth import authenticate, safe_next, set_password, verify_password
from review.errors import UserError
from review.users import create_user
from storage.audit import verify_chain
from storage.models import AuditEvent, User
from tests.review.review_testkit import NOW, PASSWORD, Clock, Seed, csrf_token, login, parse


def audit_actions(factory: sessionmaker[Session]) -> list[tuple[str, str, dict]]:
    with factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return [(e.action, e.object_id, e.detail) for e in events]


def test_login_with_a_wrong_password_fails_and_is_audited(
    client: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    response = login(client, "ana", "not the password")

    assert response.status_code == 200
    page = parse(response)
    assert page.xpath("//*[@role='alert']")
    assert page.xpath("//form//input[@name='username']")
    assert client.get("/").status_code == 302
    failures = [a for a in audit_actions(factory) if a[0] == "auth.login_failed"]
    assert failures == [
        (
            "auth.login_failed",
            str(seed.users["ana"]),
            {"username": "ana", "reason": "wrong password", "failures_in_a_row": 1},
        )
    ]
    with factory() as session:
        assert verify_chain(session) is None


def test_login_of_an_unknown_user_is_audited(
    client: FlaskClient, factory: sessionmaker[Session]
) -> None:
    response = login(client, "mallory", PASSWORD)

    assert response.status_code == 200
    assert ("auth.login_failed", "mallory", {"username": "mallory", "reason": "unknown user"}) in (
        audit_actions(factory)
    )


def test_login_works_and_is_audited(
    client: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    response = login(client, "ana", PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = parse(client.get("/"))
    assert page.xpath("string(//span[@class='username'])") == "ana"
    assert ("auth.login", str(seed.users["ana"]), {}) in audit_actions(factory)


def test_login_returns_to_the_page_asked_for_but_never_off_site(client: FlaskClient) -> None:
    token = csrf_token(client)
    data = {"csrf_token": token, "username": "ana", "password": PASSWORD}

    response = client.post("/login?next=//evil.example/x", data=data)

    assert response.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    data["csrf_token"] = csrf_token(client)
    response = client.post("/login?next=/cases/1", data=data)
    assert response.headers["Location"] == "/cases/1"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/cases/3?version=2", "/cases/3?version=2"),
        ("//evil.example", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("/ok\nSet-Cookie: x", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_next_accepts_only_local_paths(target: str | None, expected: str | None) -> None:
    assert safe_next(target) == expected


def test_login_starts_a_new_session(client: FlaskClient) -> None:
    token_before = csrf_token(client)
    with client.session_transaction() as cookie_session:
        cookie_session["planted"] = "by an attacker"

    login(client, "ana", PASSWORD)

    with client.session_transaction() as cookie_session:
        assert "planted" not in cookie_session
        assert cookie_session.permanent
    assert csrf_token(client, "/") != token_before


def test_a_disabled_user_cannot_log_in(client: FlaskClient, factory: sessionmaker[Session]) -> None:
    response = login(client, "old", PASSWORD)

    assert response.status_code == 200
    assert client.get("/").status_code == 302
    failures = [a[2] for a in audit_actions(factory) if a[0] == "auth.login_failed"]
    assert failures == [{"username": "old", "reason": "user disabled"}]


def test_the_session_of_a_user_disabled_meanwhile_is_rejected(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    assert analyst.get("/").status_code == 200
    with factory() as session, session.begin():
        user = session.get(User, seed.users["ana"])
        assert user is not None
        user.active = False

    response = analyst.get("/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    with analyst.session_transaction() as cookie_session:
        assert "user_id" not in cookie_session


def test_a_new_password_ends_the_sessions_opened_with_the_old_one(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session, session.begin():
        user = session.get(User, seed.users["ana"])
        assert user is not None
        set_password(user, "a brand new password")

    assert analyst.get("/").status_code == 302
    assert login(analyst, "ana", PASSWORD).status_code == 200
    assert login(analyst, "ana", "a brand new password").status_code == 302


def test_set_password_refuses_a_short_password(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session:
        user = session.get(User, seed.users["ana"])
        assert user is not None
        with pytest.raises(UserError, match="ana"):
            set_password(user, "short")


def test_a_session_ends_after_its_lifetime_even_when_in_use(
    analyst: FlaskClient, clock: Clock
) -> None:
    for _quarter in range(4 * 7 + 3):  # 7 h 45 min, a request every 15 minutes
        clock.advance(timedelta(minutes=15))
        assert analyst.get("/").status_code == 200

    clock.advance(timedelta(minutes=15))

    assert analyst.get("/").status_code == 302


def test_logout_needs_a_post_and_ends_the_session(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    assert analyst.get("/logout").status_code == 405
    assert analyst.get("/").status_code == 200

    response = analyst.post("/logout", data={"csrf_token": csrf_token(analyst, "/")})

    assert response.status_code == 302
    assert analyst.get("/").status_code == 302
    with factory() as session:
        (logout,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.logout"))
        assert (logout.object_type, logout.actor_id) == ("session", seed.users["ana"])


def test_create_user_hashes_the_password_with_argon2(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        user = create_user(session, username="new", password=PASSWORD, role="legal", now=NOW)

        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert verify_password(user.password_hash, PASSWORD)
        assert not verify_password(user.password_hash, PASSWORD + "x")
        assert not verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [
        ("new", PASSWORD, "superuser"),
        ("new", "short", "analyst"),
        ("has space", PASSWORD, "analyst"),
        ("", PASSWORD, "analyst"),
        ("ana", PASSWORD, "analyst"),
    ],
)
def test_create_user_refuses_bad_input(
    factory: sessionmaker[Session], seed: Seed, username: str, password: str, role: str
) -> None:
    with factory() as session, pytest.raises(UserError):
        create_user(session, username=username, password=password, role=role, now=NOW)


def test_authenticate_returns_the_active_user_only(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session:
        assert authenticate(session, username="ana", password=PASSWORD, now=NOW) is not None
        assert authenticate(session, username="old", password=PASSWORD, now=NOW) is None
        assert authenticate(session, username="x" * 500, password=PASSWORD, now=NOW) is None


def test_login_issues_a_new_session_id_each_time(client: FlaskClient) -> None:
    login(client, "ana", PASSWORD)
    with client.session_transaction() as cookie_session:
        first = cookie_session["sid"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    login(client, "ana", PASSWORD)

    with client.session_transaction() as cookie_session:
        assert cookie_session["sid"] != first
        assert len(cookie_session["sid"]) >= 32


def test_a_copy_of_the_cookie_is_refused_after_logout(app, analyst: FlaskClient) -> None:
    copy = app.test_client()
    cookie = analyst.get_cookie("synthwatch_session")
    assert cookie is not None
    copy.set_cookie("synthwatch_session", cookie.value)
    assert copy.get("/").status_code == 200

    analyst.post("/logout", data={"csrf_token": csrf_token(analyst, "/")})

    assert copy.get("/").status_code == 302


def test_a_session_ends_after_the_idle_timeout(analyst: FlaskClient, clock: Clock) -> None:
    clock.advance(timedelta(minutes=29))
    assert analyst.get("/").status_code == 200  # using the session keeps it alive
    clock.advance(timedelta(minutes=29))
    assert analyst.get("/").status_code == 200

    clock.advance(timedelta(minutes=31))

    assert analyst.get("/").status_code == 302


def test_five_failures_in_a_row_lock_the_account_for_a_while(
    client: FlaskClient, factory: sessionmaker[Session], clock: Clock
) -> None:
    for _attempt in range(5):
        assert login(client, "ana", "wrong password!").status_code == 200

    assert login(client, "ana", PASSWORD).status_code == 200  # locked: even the right one fails
    clock.advance(timedelta(minutes=16))
    assert login(client, "ana", PASSWORD).status_code == 302

    reasons = [d["reason"] for a, _o, d in audit_actions(factory) if a == "auth.login_failed"]
    assert reasons == ["wrong password"] * 5 + ["throttled"]
    with factory() as session:
        user = session.scalar(select(User).where(User.username == "ana"))
        assert user is not None and user.failed_logins == 0
        assert user.last_failed_login_at is None


def test_a_success_resets_the_count_of_failures(client: FlaskClient, clock: Clock) -> None:
    for _attempt in range(4):
        login(client, "ana", "wrong password!")
    assert login(client, "ana", PASSWORD).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    for _attempt in range(4):
        login(client, "ana", "wrong password!")

    assert login(client, "ana", PASSWORD).status_code == 302


def test_a_throttled_login_looks_like_any_failed_one(client: FlaskClient) -> None:
    wrong = login(client, "ana", "wrong password!")
    for _attempt in range(5):
        login(client, "ana", "wrong password!")
    throttled = login(client, "ana", PASSWORD)
    unknown = login(client, "nobody", PASSWORD)

    def alert(response):
        return parse(response).xpath("string(//*[@role='alert'])").strip()

    assert wrong.status_code == throttled.status_code == unknown.status_code == 200
    assert alert(wrong) == alert(throttled) == alert(unknown)


def test_the_admin_lands_on_the_audit_log(client: FlaskClient) -> None:
    response = login(client, "adm", PASSWORD)

    assert response.headers["Location"] == "/audit"
