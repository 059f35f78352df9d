"""CSRF on every state-changing request, and no state change through GET."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import (
    ApiKey,
    AuditEvent,
    Case,
    CaseComment,
    CaseDecision,
    SavedFilter,
    Source,
    SourceApproval,
    User,
)
from storage.saved_filters import add_saved_filter
from tests.review.review_testkit import NOW, Seed, session_token, signed_in

POSTS = [
    ("/cases/{case}/transition", {"to": "confirmed"}),
    ("/cases/{case}/assign", {}),
    ("/cases/{case}/comments", {"body": "Same seller as last week's case."}),
    (
        "/cases/bulk",
        {
            "case_ids": "{case}",
            "action": "dismiss",
            "reason": "duplicate of another case",
            "confirmed": "1",
        },
    ),
    ("/cases/undo", {"event_ids": "1"}),
    ("/listings/{listing}/case", {"reason": "an offer the scorer missed"}),
    ("/sources/{source}/approve", {"basis": "public site"}),
    ("/sources/{source}/suspend", {"reason": "complaint"}),
    ("/settings/time-zone", {"time_zone": "Europe/Berlin"}),
    ("/filters", {"name": "my new cases", "query": "state=new"}),
    ("/filters/{filter}/delete", {}),
    ("/logout", {}),
    ("/sellers/{seller}/merge", {"other": "2"}),
    ("/sellers/{seller}/split", {"key": "wickr:chemking"}),
    ("/sellers/changes/{change}/undo", {}),
    ("/clusters/{cluster}/transition", {"to": "dismissed", "reason": "not an offer"}),
    ("/clusters/{cluster}/split", {"listing_id": "{listing}"}),
    ("/settings/api-keys", {"name": "my script"}),
    ("/settings/api-keys/{key}/revoke", {}),
    ("/watch/new", {"name": "new nitazenes", "class": "nitazene"}),
    ("/watch/{rule}/edit", {"name": "new nitazenes", "class": "nitazene"}),
    ("/watch/{rule}/disable", {}),
    ("/watch/{rule}/enable", {}),
]
USERS = {"/sources/{source}/approve": "lee", "/sources/{source}/suspend": "lee"}
# The saved filter of ana's that the autouse fixture adds (the first row of its table).
FILTER_ID = 1


@pytest.fixture(autouse=True)
def saved_filter(factory: sessionmaker[Session], seed: Seed) -> None:
    with transaction(factory) as session:
        saved = add_saved_filter(
            session, user_id=seed.users["ana"], name="new ones", query="state=new", now=NOW
        )
        assert saved.id == FILTER_ID


def state(factory: sessionmaker[Session]) -> list[Any]:
    """Return everything a request could change, except the audit log."""
    with factory() as session:
        return [
            [(c.id, c.state, c.assignee_id, c.updated_at) for c in session.scalars(select(Case))],
            [d.id for d in session.scalars(select(CaseDecision))],
            [c.id for c in session.scalars(select(CaseComment))],
            [(s.id, s.suspended_at) for s in session.scalars(select(Source))],
            [a.id for a in session.scalars(select(SourceApproval))],
            [(u.id, u.active, u.role, u.failed_logins) for u in session.scalars(select(User))],
            [u.time_zone for u in session.scalars(select(User))],
            [(f.id, f.name) for f in session.scalars(select(SavedFilter))],
            [(k.id, k.revoked_at) for k in session.scalars(select(ApiKey))],
        ]


def fill(template: str, seed: Seed) -> str:
    return template.format(
        case=seed.cases["fentanyl"],
        source=seed.source_id,
        listing=seed.listings["news"],
        filter=FILTER_ID,
        seller=1,  # the seed's one seller (the fentanyl offer's wickr handle)
        change=1,
        cluster=1,
        key=1,
        rule=1,
    )


def test_every_post_route_is_in_this_list(app: Flask) -> None:
    posts = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and rule.endpoint != "login.login"
    }
    listed = {
        path.replace("{case}", "<int:case_id>")
        .replace("{source}", "<source_id>")
        .replace("{listing}", "<int:listing_id>")
        .replace("{filter}", "<int:filter_id>")
        .replace("{seller}", "<int:seller_id>")
        .replace("{change}", "<int:change_id>")
        .replace("{cluster}", "<int:cluster_id>")
        .replace("{key}", "<int:key_id>")
        .replace("{rule}", "<int:rule_id>")
        for path, _ in POSTS
    }
    assert posts == listed


@pytest.mark.parametrize(("path", "data"), POSTS)
@pytest.mark.parametrize("token", ["missing", "forged", "another session's"])
def test_a_post_without_the_sessions_token_changes_nothing(
    app: Flask,
    factory: sessionmaker[Session],
    seed: Seed,
    path: str,
    data: dict[str, str],
    token: str,
) -> None:
    client = signed_in(app, USERS.get(path, "ana"))
    other = signed_in(app, "adm")
    form = {k: fill(v, seed) for k, v in data.items()}
    if token == "forged":
        form["csrf_token"] = "IjEyMzQ1Njc4OTAi.forged.signature"
    elif token == "another session's":
        form["csrf_token"] = session_token(other)
    before = state(factory)

    response = client.post(fill(path, seed), data=form)

    assert response.status_code == 400
    assert state(factory) == before
    with factory() as session:
        failed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.csrf_failed")
        ).all()
    assert [(e.actor, e.detail["path"]) for e in failed] == [
        (USERS.get(path, "ana"), fill(path, seed))
    ]
    assert client.get("/sources").status_code == 200  # still signed in


def test_the_same_post_with_the_token_works(analyst: FlaskClient, factory, seed: Seed) -> None:
    response = analyst.post(
        f"/cases/{seed.cases['fentanyl']}/transition",
        data={"csrf_token": session_token(analyst), "to": "confirmed"},
    )

    assert response.status_code == 302
    with factory() as session:
        assert session.get(Case, seed.cases["fentanyl"]).state == "confirmed"


@pytest.mark.parametrize(("path", "_data"), POSTS)
def test_state_changing_routes_refuse_get(
    analyst: FlaskClient, seed: Seed, path: str, _data: dict[str, str]
) -> None:
    assert analyst.get(fill(path, seed)).status_code == 405


@pytest.mark.parametrize("username", ["ana", "lee", "adm"])
def test_no_get_changes_anything(
    app: Flask, factory: sessionmaker[Session], seed: Seed, username: str
) -> None:
    client = signed_in(app, username)
    case = seed.cases["fentanyl"]
    before = state(factory)
    paths = [
        "/",
        "/?state=all",
        f"/cases/{case}",
        f"/cases/{case}/captures/1",
        f"/cases/{case}/referral.zip",
        "/exports/cases.csv",
        "/exports/cases.json",
        "/exports/cases.stix",
        "/sources",
        "/settings",
        f"/filters/{FILTER_ID}",
        "/audit",
        "/audit?verify=1",
        "/audit/export.jsonl",
        "/audit/checkpoint.json",
        f"/cases/{case}/transition?to=confirmed",
        f"/sources/{seed.source_id}/suspend?reason=x",
    ]

    for path in paths:
        client.get(path)

    assert state(factory) == before
