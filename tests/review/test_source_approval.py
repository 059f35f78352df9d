"""Approving a source on the web: the whole scope shown, the basis in a textarea, a password."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from review.sources import approval_rows
from storage.db import transaction
from storage.models import AuditEvent, Source, User
from storage.sources import approval_state
from tests.review.review_testkit import PASSWORD, Seed, parse, post, signed_in

CONFIG: dict[str, Any] = {
    "seeds": ["https://shop.example/"],
    "allowed_domains": ["shop.example"],
    "sitemaps": [],
    "search_templates": ["https://shop.example/search?q={keyword}"],
    "schedule": "interval:1d",
    "legal_note": "Public shop pages; no login.",
    "discovery": {
        "index_links": ["nav a"],
        "listing_links": ["a.product"],
        "pagination": ["a[rel=next]"],
        "listing_url_pattern": "^/product/",
        "query_params": [],
    },
    "search": {"keywords": ["fentanyl"], "use_lexicon": True, "max_keywords": 20},
    "politeness": {"download_delay": 2.0, "concurrent_requests_per_domain": None, "timeout": None},
    "limits": {
        "max_pages": 300,
        "max_depth": 5,
        "max_pattern_pages": 50,
        "max_query_variants": 10,
    },
}


def card(client: FlaskClient, source_id: str, response: Any = None) -> Any:
    page = parse(response if response is not None else client.get("/sources"))
    (found,) = page.xpath(f"//article[@data-source-id='{source_id}']")
    return found


def fingerprint(client: FlaskClient, source_id: str) -> str:
    (value,) = card(client, source_id).xpath(".//input[@name='fingerprint']/@value")
    return str(value)


def approvals(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.action.in_(("source.approved", "auth.confirmed"))
                )
            )
        )


def test_the_approval_rows_say_the_whole_scope_and_what_the_crawl_does() -> None:
    rows = {row.key: (row.label, row.values, row.fingerprinted) for row in approval_rows(CONFIG)}

    assert rows["allowed_domains"] == ("Allowed domains", ["shop.example"], True)
    assert rows["seeds"] == ("Start URLs", ["https://shop.example/"], True)
    assert rows["listing_url_pattern"] == ("Listing URL pattern", ["^/product/"], False)
    assert rows["search_keywords"][1] == ["fentanyl", "names from the lexicon, 20 at most"]
    assert rows["limits"][1] == [
        "at most 300 pages",
        "at most 5 links from a start page",
        "at most 50 index pages of one URL pattern",
        "at most 10 query variants of one path",
    ]
    assert rows["politeness"][1] == ["2.0 s between requests"]
    assert rows["schedule"][1] == ["interval:1d"]
    assert approval_rows({})[-2].values == ["the defaults"]  # politeness of an old definition


def test_the_page_shows_the_full_scope_and_asks_for_the_password(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    with transaction(factory) as session:
        session.execute(update(Source).where(Source.id == seed.source_id).values(config=CONFIG))

    source = card(signed_in(app, "lee"), seed.source_id)

    shown = source.xpath(".//dd[@data-scope='limits']//code/text()")
    assert "at most 300 pages" in shown
    assert source.xpath(".//dd[@data-scope='listing_links']//code/text()") == ["a.product"]
    assert "no login" in source.xpath("string(.//dd[@class='legal-note'])")
    (form,) = source.xpath(".//form[contains(@action, '/approve')]")
    assert form.xpath(".//textarea[@name='basis']")
    assert form.xpath(".//input[@name='password'][@type='password']")
    (reason,) = source.xpath(".//form[contains(@action, '/suspend')]//textarea/@name")
    assert reason == "reason"


def test_a_wrong_password_shows_the_form_again_with_the_basis_kept(
    legal: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    basis = "Public B2B marketplace;\nno login, robots.txt allows it"
    shown = fingerprint(legal, seed.source_id)

    response = post(
        legal,
        f"/sources/{seed.source_id}/approve",
        {"basis": basis, "fingerprint": shown, "password": "not her password"},
    )

    assert response.status_code == 400
    page = parse(response)
    assert "not your password" in page.xpath("string(//ul[@role='alert'])")
    source = card(legal, seed.source_id, response)
    assert source.xpath("string(.//textarea[@name='basis'])") == basis
    assert source.xpath(".//input[@name='password']/@value") == []
    with factory() as session:
        user = session.scalars(select(User).where(User.username == "lee")).one()
        assert user.failed_logins == 1  # counted as a failed login is
        failed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.login_failed")
        ).one()
        assert failed.detail["purpose"] == "source approval"
        source_row = session.get(Source, seed.source_id)
        assert source_row is not None and source_row.approvals == []
    assert approvals(factory) == []


def test_no_password_approves_nothing(
    legal: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    shown = fingerprint(legal, seed.source_id)

    response = post(
        legal, f"/sources/{seed.source_id}/approve", {"basis": "public", "fingerprint": shown}
    )

    assert response.status_code == 400
    assert "password" in parse(response).xpath("string(//ul[@role='alert'])")
    assert approvals(factory) == []


def test_the_right_password_approves_and_is_audited_as_a_confirmation(
    legal: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    shown = fingerprint(legal, seed.source_id)

    response = post(
        legal,
        f"/sources/{seed.source_id}/approve",
        {"basis": "public", "fingerprint": shown, "password": PASSWORD},
    )

    assert response.status_code == 302
    assert approvals(factory) == ["auth.confirmed", "source.approved"]
    with factory() as session:
        source = session.get(Source, seed.source_id)
        assert source is not None
        assert approval_state(session, source.id, source.scope_fingerprint) == "approved"
    success = parse(legal.get("/sources"))
    assert "approved" in success.xpath("string(//ul[@role='status'])")
    assert success.xpath("//ul[@role='alert']") == []


def test_a_refused_suspension_keeps_its_reason_text(legal: FlaskClient, seed: Seed) -> None:
    response = post(legal, f"/sources/{seed.source_id}/suspend", {"reason": "x" * 2001})

    assert response.status_code == 400
    assert "longer than 2000" in parse(response).xpath("string(//ul[@role='alert'])")
    source = card(legal, seed.source_id, response)
    assert source.xpath("string(.//textarea[@name='reason'])") == "x" * 2001
