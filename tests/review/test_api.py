"""The read-only JSON API: every endpoint on SQLite and PostgreSQL, bearer keys only (the session
cookie is refused), JSON errors for bad keys, roles and parameters, an audit row per request,
and scraped text that comes back as plain JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from review.app import create_app
from review.exports import case_record
from review.labels import class_label
from review.settings import ReviewSettings
from review.views.api_requests import MAX_LIMIT
from storage.api_keys import create_api_key, revoke_api_key
from storage.cases import cases_with_details
from storage.db import make_engine, make_session_factory, transaction
from storage.migrate import upgrade
from storage.models import ApiKey, AuditEvent, User
from storage.seller_changes import merge_sellers
from storage.users import get_user
from tests.review.review_testkit import NOW, Clock, Seed, seed_database, signed_in
from tests.review.test_clusters import add_reposts
from tests.review.test_xss_corpus import seed_payloads

ISO_UTC = "+00:00"
# What a listing's latest version shows: the keys of the JSON export's case record that come
# from the version (review.exports.case_record).
VERSION_KEYS = {
    "title", "title_raw", "text", "fields", "seller", "prices", "reasons", "substances",
    "indicators", "evidence",
}  # fmt: skip


@dataclass
class Backend:
    """A seeded review app over one database, with a cluster of three reposts."""

    app: Flask
    factory: sessionmaker[Session]
    seed: Seed
    cluster_id: int
    cluster_cases: list[int]
    cluster_listings: list[int]

    def key(self, username: str = "ana", name: str = "tests") -> str:
        with transaction(self.factory) as session:
            user = get_user(session, username)
            assert user is not None
            _key, token = create_api_key(session, user, name=name, now=NOW)
        return token

    def get(self, path: str, token: str | None = None, **query: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.app.test_client().get(path, headers=headers, query_string=query or None)

    def audit(self, action: str) -> list[AuditEvent]:
        with self.factory() as session:
            query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            return list(session.scalars(query))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, seed: Seed, settings: ReviewSettings, clock: Clock
) -> Iterator[Backend]:
    """The seeded app on SQLite (the shared template) and on a PostgreSQL database of its own."""
    if request.param == "sqlite":
        factory = request.getfixturevalue("factory")
        found = add_reposts(factory, seed)
        yield Backend(request.getfixturevalue("app"), factory, seed, *found)
        return
    engine = make_engine(request.getfixturevalue("postgres_url"))
    upgrade(engine)
    factory = make_session_factory(engine)
    seed = seed_database(factory)
    found = add_reposts(factory, seed)
    yield Backend(create_app(factory, settings, clock=clock), factory, seed, *found)
    engine.dispose()


def body(response: TestResponse, status: int = 200) -> Any:
    """Return a response's JSON after checking what every API answer carries."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return json.loads(response.get_data(as_text=True))


def error_of(response: TestResponse, status: int) -> str:
    """Return the message of a JSON error after checking its shape."""
    found = body(response, status)
    assert set(found) >= {"error", "message", "status"} and found["status"] == status
    assert "Traceback" not in found["message"] and 'File "' not in found["message"]
    return str(found["message"])


# ---------------------------------------------------------------- every endpoint


ENDPOINTS = [
    ("/api/v1/cases", "cases"),
    ("/api/v1/cases/{case}", "case"),
    ("/api/v1/listings", "listings"),
    ("/api/v1/listings/{listing}", "listing"),
    ("/api/v1/sellers", "sellers"),
    ("/api/v1/sellers/{seller}", "seller"),
    ("/api/v1/clusters", "clusters"),
    ("/api/v1/clusters/{cluster}", "cluster"),
    ("/api/v1/trends", "trends"),
]


def fill(path: str, backend: Backend) -> str:
    return path.format(
        case=backend.seed.cases["fentanyl"],
        listing=backend.seed.listings["fentanyl"],
        seller=seller_of(backend, "wickr:harbour_lab"),
        cluster=backend.cluster_id,
    )


def seller_of(backend: Backend, key: str) -> int:
    found = body(backend.get("/api/v1/sellers", backend.key(name=f"find {key}"), q=key))
    (seller,) = found["data"]
    return int(seller["seller_id"])


@pytest.mark.parametrize(("path", "name"), ENDPOINTS)
def test_every_endpoint_answers_json_and_writes_its_audit_row(
    backend: Backend, path: str, name: str
) -> None:
    token = backend.key()
    shown = fill(path, backend)
    before = len(backend.audit("api.request"))

    response = backend.get(shown, token)
    found = body(response)

    assert isinstance(found, dict) and found
    assert "Set-Cookie" not in response.headers  # no session is started for a key
    rows = backend.audit("api.request")[before:]
    assert len(rows) == 1
    (row,) = rows
    assert (row.actor, row.object_type, row.object_id) == ("ana", "endpoint", f"api.{name}")
    assert row.detail["key"] == token[:12] and row.detail["status"] == 200
    assert row.detail["path"] == shown and token[13:] not in json.dumps(row.detail)
    if "data" in found:
        assert row.detail["results"] == len(found["data"])
    with backend.factory() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == token[:12]))
        assert key is not None and key.last_used_at == NOW


# ---------------------------------------------------------------- cases


def test_cases_take_the_queues_filters_and_order(backend: Backend) -> None:
    token, seed = backend.key(), backend.seed
    everything = body(backend.get("/api/v1/cases", token))
    opioids = body(backend.get("/api/v1/cases", token, **{"class": "opioid", "state": "new"}))
    by_first_seen = body(backend.get("/api/v1/cases", token, sort="first_seen", dir="asc"))

    ids = [c["case_id"] for c in everything["data"]]
    assert set(ids) == set(seed.cases.values()) | set(backend.cluster_cases)
    scores = [c["score"] for c in everything["data"]]
    assert scores == sorted(scores, reverse=True)  # the queue's order: by score
    assert everything["total"] == len(ids) and everything["next"] is None
    assert {c["case_id"] for c in opioids["data"]} == {seed.cases["fentanyl"], seed.cases["xss"]}
    first_seen = [c["first_seen"] for c in by_first_seen["data"]]
    assert first_seen == sorted(first_seen)
    fentanyl = next(c for c in everything["data"] if c["case_id"] == seed.cases["fentanyl"])
    assert fentanyl["listing_id"] == seed.listings["fentanyl"]
    assert fentanyl["source"] == {"id": seed.source_id, "name": "Demo Market <b>"}
    assert fentanyl["substances"] == [
        {
            "concept_id": "fentanyl",
            "name": "Fentanyl",
            "class": "opioid",
            "class_label": class_label("opioid"),
        }
    ]
    for moment in ("first_seen", "created_at", "updated_at"):
        assert fentanyl[moment].endswith(ISO_UTC)


def test_cases_come_a_page_at_a_time(backend: Backend) -> None:
    token = backend.key()
    everything = body(backend.get("/api/v1/cases", token))["data"]

    seen, path, query = [], "/api/v1/cases", {"limit": "2"}
    while path:
        page = body(backend.get(path, token, **query))
        assert page["limit"] == 2 and len(page["data"]) <= 2
        seen += page["data"]
        path, query = page["next"], {}
    past = body(backend.get("/api/v1/cases", token, limit=2, page=99))

    assert seen == everything
    assert past["data"] == [] and past["next"] is None and past["total"] == len(everything)


def test_a_case_is_the_json_exports_record_with_its_cluster_and_sellers(backend: Backend) -> None:
    token = backend.key()
    case_id = backend.cluster_cases[0]

    found = body(backend.get(f"/api/v1/cases/{case_id}", token))

    with backend.factory() as session:
        record = case_record(cases_with_details(session, [case_id])[0])
    assert {k: v for k, v in found.items() if k not in ("cluster_id", "seller_ids")} == (
        json.loads(json.dumps(record))
    )
    assert found["cluster_id"] == backend.cluster_id
    assert found["seller_ids"] == [seller_of(backend, "wickr:harbour_lab")]


def test_a_search_of_the_cases_is_audited_as_a_search(backend: Backend) -> None:
    token = backend.key()

    found = body(backend.get("/api/v1/cases", token, search="metonitazene", state="new"))

    assert {c["case_id"] for c in found["data"]} == set(backend.cluster_cases)
    (search,) = backend.audit("search")
    assert (search.actor, search.object_id) == ("ana", "api.cases")
    assert search.detail == {"query": "metonitazene", "filters": {"state": "new"}, "results": 3}
    assert backend.audit("api.request")[-1].detail["query"] == {
        "search": "metonitazene",
        "state": "new",
    }


def test_assignee_me_is_the_keys_owner(backend: Backend) -> None:
    token = backend.key("lee")
    mine = body(backend.get("/api/v1/cases", token, assignee="me"))
    nobody = body(backend.get("/api/v1/cases", token, assignee="none"))

    assert mine["data"] == []
    assert nobody["total"] == body(backend.get("/api/v1/cases", token))["total"]


# ---------------------------------------------------------------- listings


def test_listings_take_the_listings_pages_filters(backend: Backend) -> None:
    token, seed = backend.key(), backend.seed
    unflagged = body(backend.get("/api/v1/listings", token, flag="unflagged"))
    without = body(backend.get("/api/v1/listings", token, case="without"))
    titled = body(backend.get("/api/v1/listings", token, q="police warn"))
    searched = body(backend.get("/api/v1/listings", token, search="nitazenes"))

    assert [row["listing_id"] for row in unflagged["data"]] == [seed.listings["news"]]
    assert [row["listing_id"] for row in without["data"]] == [seed.listings["news"]]
    assert [row["listing_id"] for row in titled["data"]] == [seed.listings["news"]]
    assert seed.listings["news"] in [row["listing_id"] for row in searched["data"]]
    news = unflagged["data"][0]
    assert news["case"] is None and news["flagged"] is False
    assert news["source"] == {"id": seed.source_id, "name": "Demo Market <b>"}
    (search,) = backend.audit("search")
    assert search.object_id == "api.listings"


def test_a_listing_shows_its_latest_version_as_a_case_does(backend: Backend) -> None:
    token, seed = backend.key(), backend.seed

    found = body(backend.get(f"/api/v1/listings/{seed.listings['fentanyl']}", token))
    case = body(backend.get(f"/api/v1/cases/{seed.cases['fentanyl']}", token))

    assert {key: found["latest"][key] for key in VERSION_KEYS} == {
        key: case[key] for key in VERSION_KEYS
    }
    assert [v["title_raw"] for v in found["versions"]] == [
        "Fentanyl powder 99%",
        "Fentanyl powder 99% (50g)",
    ]
    assert found["case"]["case_id"] == seed.cases["fentanyl"]
    assert found["seller_ids"] == case["seller_ids"] and found["cluster_id"] is None


# ---------------------------------------------------------------- sellers and clusters


def test_sellers_and_a_seller(backend: Backend) -> None:
    token = backend.key()
    everything = body(backend.get("/api/v1/sellers", token))
    seller_id = seller_of(backend, "harbour_lab")

    found = body(backend.get(f"/api/v1/sellers/{seller_id}", token))

    assert everything["total"] == len(everything["data"]) >= 2
    assert [i["key"] for i in found["identifiers"]] == ["wickr:harbour_lab"]
    assert {item["listing_id"] for item in found["listings"]} == set(backend.cluster_listings)
    assert {s["id"] for s in found["sources"]} == {backend.seed.source_id, "other-board"}
    assert [s["concept_id"] for s in found["substances"]] == ["metonitazene"]
    assert found["first_seen"].endswith(ISO_UTC) and found["timeline"]


def test_a_merged_seller_names_the_one_it_went_into(backend: Backend) -> None:
    token = backend.key()
    kept, merged = seller_of(backend, "harbour_lab"), seller_of(backend, "chemking")
    with transaction(backend.factory) as session:
        actor = get_user(session, "ana")
        assert actor is not None
        merge_sellers(session, kept, merged, actor=actor, now=NOW)

    found = body(backend.get(f"/api/v1/sellers/{merged}", token), 404)

    assert found["merged_into"] == kept and "merged" in found["message"]


def test_clusters_and_a_cluster(backend: Backend) -> None:
    token = backend.key()

    everything = body(backend.get("/api/v1/clusters", token))
    found = body(backend.get(f"/api/v1/clusters/{backend.cluster_id}", token))

    assert everything["data"] == [
        {
            "cluster_id": backend.cluster_id,
            "created_at": NOW.isoformat(),
            "updated_at": NOW.isoformat(),
            "listings": 3,
            "sources": 2,
            "cases": 3,
        }
    ]
    assert [item["listing_id"] for item in found["listings"]] == backend.cluster_listings
    assert [item["case"]["case_id"] for item in found["listings"]] == backend.cluster_cases
    assert found["sources"] == 2
    error_of(backend.get("/api/v1/clusters/999", token), 404)


# ---------------------------------------------------------------- trends


def test_trends_count_by_week(backend: Backend) -> None:
    token = backend.key()

    found = body(backend.get("/api/v1/trends", token, weeks=2))

    assert [w["week"] for w in found["weeks"]] == ["2026-W47", "2026-W48"]
    assert [w["current"] for w in found["weeks"]] == [False, True]
    assert found["weeks"][1]["cases_opened"] == len(backend.seed.cases) - 1 + 3
    classes = {c["class"]: c for c in found["classes"]}
    assert classes["opioid"]["listings"][1] >= 1 and len(classes["opioid"]["cases"]) == 2
    assert {s["source_id"] for s in found["sources"]} == {backend.seed.source_id, "other-board"}
    demo = next(s for s in found["sources"] if s["source_id"] == backend.seed.source_id)
    assert demo["last_run"]["status"] == "failed" and "<b>" in demo["last_run"]["error"]
    assert body(backend.get("/api/v1/trends", token))["weeks"][-1]["week"] == "2026-W48"


# ---------------------------------------------------------------- keys


def refusals(backend: Backend) -> list[dict[str, Any]]:
    return [row.detail for row in backend.audit("api.refused")]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no key"),
        ("Basic YW5hOnBhc3N3b3Jk", "not bearer"),
        ("Bearer", "not bearer"),
        ("Bearer not-a-key", "malformed key"),
        ("Bearer swk_0000abcd_" + "x" * 43, "unknown key"),
    ],
)
def test_a_request_without_a_good_key_is_a_401(
    backend: Backend, header: str | None, reason: str
) -> None:
    headers = {"Authorization": header} if header is not None else {}

    response = backend.app.test_client().get("/api/v1/cases", headers=headers)

    message = error_of(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="synthwatch"')
    assert "key" in message.lower() or "authorization" in message.lower()
    assert [r["reason"] for r in refusals(backend)] == [reason]
    assert backend.audit("api.request") == []


def test_a_revoked_key_a_disabled_owner_and_a_new_role_are_refused(backend: Backend) -> None:
    revoked, disabled, re_roled = backend.key("ana", "a"), backend.key("ana", "b"), backend.key()
    other = backend.key("lee")
    with transaction(backend.factory) as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == revoked[:12]))
        assert key is not None
        revoke_api_key(session, key, now=NOW)
    assert body(backend.get("/api/v1/cases", disabled))["data"]

    error_of(backend.get("/api/v1/cases", revoked), 401)
    with transaction(backend.factory) as session:
        ana = session.scalar(select(User).where(User.username == "ana"))
        assert ana is not None
        ana.active = False
    error_of(backend.get("/api/v1/cases", disabled), 401)
    with transaction(backend.factory) as session:
        lee = session.scalar(select(User).where(User.username == "lee"))
        assert lee is not None
        lee.role = "analyst"
    error_of(backend.get("/api/v1/cases", other), 401)
    del re_roled

    assert [(r["reason"], r["key"]) for r in refusals(backend)] == [
        ("revoked key", revoked[:12]),
        ("owner disabled", disabled[:12]),
        ("owner's role changed", other[:12]),
    ]
    assert [row.actor for row in backend.audit("api.refused")] == ["ana", "ana", "lee"]


def test_the_session_cookie_is_refused(backend: Backend) -> None:
    analyst = signed_in(backend.app, "ana")
    assert analyst.get("/").status_code == 200  # signed in

    refused = analyst.get("/api/v1/cases")
    keyed = analyst.get("/api/v1/cases", headers={"Authorization": f"Bearer {backend.key('lee')}"})

    error_of(refused, 401)
    assert refused.headers.get("Location") is None
    assert body(keyed)["data"]
    assert backend.audit("api.request")[-1].actor == "lee"  # who the key is, not the cookie


def test_an_admins_key_is_forbidden_and_audited(backend: Backend) -> None:
    token = backend.key("adm")

    message = error_of(backend.get("/api/v1/trends", token), 403)

    assert "admin" in message
    (denial,) = backend.audit("auth.denied")
    assert (denial.actor, denial.object_id) == ("adm", "api.trends")
    assert backend.audit("api.request") == []


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("path", "query", "words"),
    [
        ("/api/v1/cases", {"colour": "red"}, "unknown parameter 'colour'"),
        ("/api/v1/cases", {"state": "lost"}, "no case state 'lost'"),
        ("/api/v1/cases", {"class": "<script>"}, "no substance class"),
        ("/api/v1/cases", {"source": "elsewhere"}, "no source 'elsewhere'"),
        ("/api/v1/cases", {"since": "25/11/2026"}, "since must be a day"),
        ("/api/v1/cases", {"since": "2026-11-25", "until": "2026-11-01"}, "is after"),
        ("/api/v1/cases", {"assignee": "nobody-here"}, "no user 'nobody-here'"),
        ("/api/v1/cases", {"search": "(fentanyl"}, "search '(fentanyl'"),
        ("/api/v1/cases", {"sort": "price"}, "no column to sort by"),
        ("/api/v1/cases", {"dir": "up"}, "no sort direction"),
        ("/api/v1/cases", {"limit": "0"}, f"limit must be from 1 to {MAX_LIMIT}"),
        ("/api/v1/cases", {"limit": str(MAX_LIMIT + 1)}, "limit must be from 1"),
        ("/api/v1/cases", {"limit": "ten"}, "limit must be a whole number"),
        ("/api/v1/cases", {"page": "0"}, "pages are numbered from 1"),
        ("/api/v1/cases", {"page": "9" * 5000}, "page must be a whole number"),
        ("/api/v1/cases", {"page": str(2**31 - 1)}, "past any result"),
        ("/api/v1/listings", {"flag": "maybe"}, "no flag choice 'maybe'"),
        ("/api/v1/listings", {"case": "perhaps"}, "no case choice"),
        ("/api/v1/listings", {"q": "x" * 201}, "at most 200 characters"),
        ("/api/v1/sellers", {"q": "x" * 201}, "at most 200 characters"),
        ("/api/v1/clusters", {"search": "x"}, "unknown parameter 'search'"),
        ("/api/v1/trends", {"weeks": "53"}, "whole number from 1 to 52"),
        ("/api/v1/cases/1", {"state": "new"}, "unknown parameter 'state'"),
    ],
)
def test_a_bad_parameter_is_a_400_that_names_it(
    backend: Backend, path: str, query: dict[str, str], words: str
) -> None:
    response = backend.get(path, backend.key(), **query)

    assert words.lower() in error_of(response, 400).lower()
    row = backend.audit("api.request")[-1]
    assert row.detail["status"] == 400 and words.lower() in row.detail["message"].lower()


def test_a_parameter_given_twice_is_a_400(backend: Backend) -> None:
    token = backend.key()
    response = backend.app.test_client().get(
        "/api/v1/cases?state=new&state=all", headers={"Authorization": f"Bearer {token}"}
    )
    assert "more than once" in error_of(response, 400)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing", 404),
        ("GET", "/api/v1/cases/not-a-number", 404),
        ("GET", "/api/v1/cases/99999999999", 404),
        ("GET", "/api/v1/cases/999", 404),
        ("GET", "/api/v1/listings/999", 404),
        ("GET", "/api/v1/sellers/999", 404),
        ("POST", "/api/v1/cases", 405),
        ("DELETE", "/api/v1/cases/1", 405),
    ],
)
def test_what_is_no_endpoint_is_a_json_error(
    backend: Backend, method: str, path: str, status: int
) -> None:
    token = backend.key()
    response = backend.app.test_client().open(
        path, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    error_of(response, status)
    if status == 405:
        assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_a_json_500_without_the_trace(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from review.views import api_entities

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api_entities, "cluster_summaries", broken)

    response = backend.get("/api/v1/clusters", backend.key())

    assert "secret internals" not in error_of(response, 500)
    assert backend.audit("api.request")[-1].detail["status"] == 500


# ---------------------------------------------------------------- scraped text


def test_every_xss_payload_comes_back_as_the_same_plain_string(
    app: Flask, factory: sessionmaker[Session], home: Path
) -> None:
    cases = seed_payloads(factory, home)
    with transaction(factory) as session:
        ana = get_user(session, "ana")
        assert ana is not None
        _key, token = create_api_key(session, ana, name="xss", now=NOW)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    listed: dict[int, dict[str, Any]] = {}
    path: str | None = "/api/v1/listings?source=xss-market&limit=100"
    while path:
        page = body(client.get(path, headers=headers))
        listed |= {row["listing_id"]: row for row in page["data"]}
        path = page["next"]
    for case_id, payload in cases.items():
        found = body(client.get(f"/api/v1/cases/{case_id}", headers=headers))
        listing = body(client.get(f"/api/v1/listings/{found['listing']['id']}", headers=headers))
        latest = listing["latest"]
        assert found["title_raw"] == latest["title_raw"] == payload
        assert found["listing"]["url"] == listing["url"] == payload
        assert found["fields"]["seller"] == latest["fields"]["seller"] == payload
        assert found["fields"][payload[:40]] == payload
        assert payload in found["text"] and payload in latest["text"]
        assert payload[:200] in [s["name"] for s in latest["substances"]]
        assert payload in [i["value"] for i in latest["indicators"]]
        assert latest["reasons"][0] == {"text": payload, "weight": payload}
        assert listed[listing["listing_id"]]["title_raw"] == payload
        assert listed[listing["listing_id"]]["url"] == payload
    assert len(listed) == len(cases)
