"""Working a case together in a real browser: an analyst comments on a case and assigns it to a
colleague. Debian's Chromium driven by Playwright, the app on 127.0.0.1; screenshots are saved
in the test's output folder. Skipped where /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditEvent, Case, CaseComment
from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.review_testkit import Seed

pytestmark = BROWSER_TEST

COMMENT = "Same wickr handle as the forum thread.\nLee, can you look at the shipping note?"


def test_an_analyst_comments_and_assigns_a_case_to_a_colleague(
    server: str, browser_context: Any, factory: sessionmaker[Session], seed: Seed, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    case_id = seed.cases["fentanyl"]
    page = browser_context.new_page()
    violations = csp_violations(page)
    sign_in(page, server)
    page.goto(f"{server}/cases/{case_id}")

    # An empty comment is not sent: the textarea is required.
    page.click("form.comment-form button[type=submit]")
    assert page.url == f"{server}/cases/{case_id}"
    assert page.eval_on_selector("#comment-body", "area => area.validity.valueMissing")

    page.fill("#comment-body", COMMENT)
    with page.expect_navigation():
        page.click("form.comment-form button[type=submit]")
    assert page.url.startswith(f"{server}/cases/{case_id}#comment-")
    assert "Comment added." in page.inner_text("ul.flashes")
    (comment,) = page.query_selector_all("li.comment")
    assert comment.inner_text().startswith("ana")
    # Shown as typed: the line break is kept on screen.
    assert comment.query_selector("p.comment-body").inner_text() == COMMENT
    assert "case.commented" in page.inner_text("section.history")

    page.select_option("#assign-to", "lee")
    with page.expect_navigation():
        page.click("form.action-assign-to button[type=submit]")
    assert page.inner_text("span.assignee") == "assigned to lee"
    assert f"Case {case_id} assigned to lee." in page.inner_text("ul.flashes")
    assert page.eval_on_selector("#assign-to", "select => select.value") == "lee"
    page.screenshot(path=str(shots / "case-comment-assign.png"), full_page=True)

    with factory() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.assignee_id == seed.users["lee"]
        bodies = session.scalars(select(CaseComment.body)).all()
        assert bodies == [COMMENT]
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case_id))
            .order_by(AuditEvent.id)
        ).all()
        assert actions[-2:] == ["case.commented", "case.assigned"]
    assert violations == []
