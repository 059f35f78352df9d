"""An analyst searches the queue in Debian's Chromium, the app on 127.0.0.1: types a query
beside a state filter, sees the matching cases with their matches highlighted, pages on with
the search kept, and fixes a query the app could not read.

Screenshots are saved in the test's output folder. Skipped where /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from review.views import queue as queue_view
from storage.models import AuditEvent
from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.review_testkit import Seed

pytestmark = BROWSER_TEST


def shown_cases(page: Any) -> list[int]:
    return [int(row.get_attribute("data-case-id")) for row in page.query_selector_all("tr.case")]


def test_an_analyst_searches_the_queue_and_sees_the_matches_highlighted(
    server: str,
    browser_context: Any,
    factory: sessionmaker[Session],
    seed: Seed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 1)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with factory() as session:
        before = session.scalar(select(func.max(AuditEvent.id))) or 0
    page = browser_context.new_page()
    violations = csp_violations(page)
    sign_in(page, server)

    page.fill("#search", '"stealth shipping" OR protonitazene')
    page.select_option("#state", "all")
    with page.expect_navigation():
        page.press("#search", "Enter")

    assert shown_cases(page) == [seed.cases["fentanyl"]]
    assert "2 cases" in page.inner_text("p.summary")
    assert page.input_value("#search") == '"stealth shipping" OR protonitazene'
    snippet = page.locator("tr.case p.search-snippet")
    assert snippet.locator("mark.search-match").all_inner_texts() == ["Stealth shipping"]
    assert "Buy fentanyl powder" in snippet.inner_text()
    with page.expect_navigation():
        page.click("a[rel=next]")
    assert shown_cases(page) == [seed.cases["nitazene"]]
    assert page.locator("tr.case td.title a mark.search-match").all_inner_texts() == [
        "Protonitazene"
    ]
    page.screenshot(path=str(shots / "search.png"), full_page=True)

    page.fill("#search", "protonitazene NOT")
    with page.expect_navigation():
        page.click("form.filter button[type=submit]")
    assert "NOT needs a term after it" in page.inner_text("li.flash-error")
    assert page.input_value("#search") == "protonitazene NOT"
    page.screenshot(path=str(shots / "bad-search.png"), full_page=True)

    with factory() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
        actions = {row.action for row in rows}
        searches = [row for row in rows if row.action == "search"]
        audited = [(row.actor, row.detail["query"], row.detail["results"]) for row in searches]
        states = {row.detail["filters"]["state"] for row in searches}
    # Typing in the box is not triage: its "e"s and "o"s decided, took or opened nothing.
    assert actions == {"auth.login", "search"}
    query = '"stealth shipping" OR protonitazene'
    assert audited == [("ana", query, 2), ("ana", query, 2)]  # both pages; the bad one isn't
    assert states == {"all"}
    assert violations == []
    for name in ("search.png", "bad-search.png"):
        assert (shots / name).stat().st_size > 10_000
