"""The sources page (legal approval from the app) and the admins' audit log page and exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from storage import crawl_stats
from storage.audit import Checkpoint, verify_chain
from storage.db import transaction
from storage.models import AuditEvent, CrawlRun, DigestMessage, Source, User
from storage.sources import approval_state
from tests.review.review_testkit import PASSWORD, Seed, parse, post, signed_in


def card(client: FlaskClient, source_id: str):
    (found,) = parse(client.get("/sources")).xpath(f"//article[@data-source-id='{source_id}']")
    return found


def test_the_sources_page_shows_approval_and_the_last_crawl(
    analyst: FlaskClient, seed: Seed
) -> None:
    source = card(analyst, seed.source_id)

    assert source.xpath("string(.//span[contains(@class, 'approval')])") == "unapproved"
    assert "Demo Market <b>" in source.xpath("string(.//h2)")
    last = " ".join(source.xpath("string(.//dd[@class='last-run'])").split())
    assert last.startswith(f"run {seed.run_ids[1]}, failed")
    errors = source.xpath(".//ul[@class='run-errors']/li/text()")
    assert any("robots.txt timed out: <b>host disallowed</b>" in e for e in errors)
    assert source.xpath(".//form") == []  # analysts neither approve nor suspend


def test_the_last_crawl_counts_new_and_changed_listings_apart(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    # listings_new_version is new and changed together: 10 new listings are no changed one.
    stats = {
        crawl_stats.LISTINGS_NEW: 10,
        crawl_stats.LISTINGS_CHANGED: 0,
        crawl_stats.LISTINGS_NEW_VERSION: 10,
        crawl_stats.refused_key("robots"): 2,
        crawl_stats.refused_urls_key("robots"): ["https://shop.example/a"],
    }
    with transaction(factory) as session:
        session.execute(update(CrawlRun).where(CrawlRun.id == seed.run_ids[1]).values(stats=stats))

    last = " ".join(card(analyst, seed.source_id).xpath("string(.//dd[@class='last-run'])").split())

    assert "10 new and 0 changed listings" in last
    assert "2 refused" in last


def test_a_legal_reviewer_approves_with_the_same_rules_as_the_cli(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    legal = signed_in(app, "lee")
    assert card(legal, seed.source_id).xpath(".//form/@action") == [
        f"/sources/{seed.source_id}/approve",
        f"/sources/{seed.source_id}/suspend",
    ]

    shown = shown_fingerprint(legal, seed.source_id)
    empty = post(legal, f"/sources/{seed.source_id}/approve", {"basis": "  ", "fingerprint": shown})
    assert empty.status_code == 400
    assert "needs a legal basis" in parse(empty).xpath("string(//main)")
    assert parse(empty).xpath(f"//form[@action='/sources/{seed.source_id}/approve']")
    response = post(
        legal,
        f"/sources/{seed.source_id}/approve",
        {"basis": "public B2B site", "fingerprint": shown, "password": PASSWORD},
    )

    assert response.status_code == 302
    with factory() as session:
        source = session.get(Source, seed.source_id)
        assert approval_state(session, source.id, source.scope_fingerprint) == "approved"
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "source.approved"))
        assert (event.actor, event.detail["legal_basis"]) == ("lee", "public B2B site")
    basis = card(legal, seed.source_id).xpath("string(.//dd[@class='legal-basis'])")
    assert "public B2B site" in basis


def shown_fingerprint(client: FlaskClient, source_id: str) -> str:
    """Return the fingerprint the approve form of a source carries, checking the page shows it."""
    source = card(client, source_id)
    (carried,) = source.xpath(
        ".//form[contains(@action, '/approve')]//input[@name='fingerprint']/@value"
    )
    assert source.xpath("string(.//code[@class='scope-fingerprint'])") == carried
    return str(carried)


def test_the_sources_page_shows_the_whole_scope_and_its_fingerprint(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    config = {
        "seeds": ["https://shop.example/", "https://shop.example/new"],
        "sitemaps": ["https://shop.example/sitemap.xml"],
        "search_templates": ["https://shop.example/search?q={keyword}"],
        "allowed_domains": ["shop.example", "cdn.shop.example"],
    }
    with transaction(factory) as session:
        session.execute(update(Source).where(Source.id == seed.source_id).values(config=config))
    source = card(signed_in(app, "lee"), seed.source_id)

    shown = {key: source.xpath(f".//dd[@data-scope='{key}']//li/code/text()") for key in config}
    assert shown == config
    assert shown_fingerprint(signed_in(app, "lee"), seed.source_id) == "f" * 64


def test_an_approval_of_a_scope_that_changed_since_the_page_is_refused(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    legal = signed_in(app, "lee")
    shown = shown_fingerprint(legal, seed.source_id)
    with transaction(factory) as session:
        # Someone registers a wider scope while the reviewer reads the page.
        session.execute(
            update(Source)
            .where(Source.id == seed.source_id)
            .values(config={"allowed_domains": ["evil.example"]}, scope_fingerprint="9" * 64)
        )

    refused = post(
        legal, f"/sources/{seed.source_id}/approve", {"basis": "public", "fingerprint": shown}
    )
    missing = post(legal, f"/sources/{seed.source_id}/approve", {"basis": "public"})

    assert (refused.status_code, missing.status_code) == (400, 400)
    page = parse(refused)
    assert "changed since it was shown" in page.xpath("string(//main)")
    # The page shown again carries the new scope, for the reviewer to read before approving.
    (again,) = page.xpath(f"//article[@data-source-id='{seed.source_id}']")
    assert again.xpath("string(.//code[@class='scope-fingerprint'])") == "9" * 64
    assert again.xpath(".//dd[@data-scope='allowed_domains']//code/text()") == ["evil.example"]
    with factory() as session:
        source = session.get(Source, seed.source_id)
        assert source.approvals == []
        assert approval_state(session, source.id, source.scope_fingerprint) == "unapproved"
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "source.approved")
        ).all()


def test_an_admin_suspends_but_never_approves(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    admin = signed_in(app, "adm")
    assert card(admin, seed.source_id).xpath(".//form/@action") == [
        f"/sources/{seed.source_id}/suspend"
    ]

    assert post(admin, f"/sources/{seed.source_id}/approve", {"basis": "x"}).status_code == 403
    suspended = post(admin, f"/sources/{seed.source_id}/suspend", {"reason": "takedown"})
    assert suspended.status_code == 302
    assert post(admin, "/sources/nowhere/suspend", {"reason": "x"}).status_code == 404

    with factory() as session:
        assert session.get(Source, seed.source_id).suspended_at is not None


def test_the_audit_log_page_filters_and_verifies(
    admin: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    page = parse(admin.get("/audit?action=user.created"))
    assert len(page.xpath("//table[@class='audit-rows']/tbody/tr")) == 4
    assert page.xpath("//select[@name='action']/option[@selected]/@value") == ["user.created"]

    intact = parse(admin.get("/audit?verify=1"))
    assert intact.xpath("//p[contains(@class, 'chain-intact')]")
    with transaction(factory) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(actor="mallory"))

    broken = parse(admin.get("/audit?verify=1"))
    assert "row 3" in broken.xpath("string(//p[contains(@class, 'chain-broken')])")


def test_the_audit_export_and_checkpoint(
    admin: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    exported = admin.get("/audit/export.jsonl")
    lines = [json.loads(line) for line in exported.get_data(as_text=True).splitlines()]
    mark = Checkpoint.from_dict(admin.get("/audit/checkpoint.json").get_json())

    with factory() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [line["hash"] for line in lines] == [r.hash for r in rows[: len(lines)]]
        # Each download is itself audited, after the rows it holds.
        assert [r.action for r in rows[len(lines) :]] == ["audit.exported", "audit.exported"]
        assert rows[len(lines)].detail == {"up_to_event": lines[-1]["id"]}
        assert mark.event_id == rows[-2].id and mark.hash == rows[-2].hash
        assert verify_chain(session, mark) is None


def test_admins_see_digests_the_mail_server_refused(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    with transaction(factory) as session:
        admin = session.scalars(select(User).where(User.role == "admin")).first()
        assert admin is not None
        session.add(
            DigestMessage(
                week="2026-W47",
                recipient_id=admin.id,
                email="admin@example.com",
                message_id="<digest-2026-W47-1@synthwatch.invalid>",
                subject="SynthWatch 2026-W47",
                body_text="",
                body_html="",
                status="failed",
                attempts=1,
                smtp_reply="550 5.1.1 <admin@example.com>: no such mailbox <b>",
                created_at=datetime(2026, 11, 23, 7, 0, tzinfo=UTC),
            )
        )
    page = parse(signed_in(app, admin.username).get("/outbox?status=failed"))

    assert page.xpath("//p[contains(@class, 'digest-failed')]")
    (row,) = page.xpath("//tr[@class='status-failed']")
    assert "550 5.1.1 <admin@example.com>: no such mailbox <b>" in row.xpath("string(.)")
    assert page.xpath("//tr[@class='status-failed']//b") == []  # the reply is text, not markup
