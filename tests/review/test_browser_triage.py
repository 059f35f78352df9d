"""Keyboard triage in a real browser: keys act on the focused row, offer only valid moves, can be
undone, and can be switched off (WCAG 2.1.4). Debian's Chromium driven by Playwright, the app on
127.0.0.1; screenshots are saved in the test's output folder. Skipped where /usr/bin/chromium
is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditEvent, Case
from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.review_testkit import Seed

pytestmark = BROWSER_TEST

# The seeded new cases by score: fentanyl 9.1, nitazene 7.5, ...
FIRST, SECOND = "fentanyl", "nitazene"


@pytest.fixture
def queue(server: str, browser_context: Any, tmp_path: Path) -> Iterator[Any]:
    """The analyst's queue in a browser tab; fails the test on a CSP violation."""
    page = browser_context.new_page()
    violations = csp_violations(page)
    sign_in(page, server)
    yield page
    page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
    assert violations == []


def row_link(case_id: int) -> str:
    return f"tr[data-case-id='{case_id}'] a.row-link"


def highlighted(page: Any) -> int:
    return int(page.get_attribute("tr.case.selected", "data-case-id"))


def posts(page: Any) -> list[str]:
    """Collect the URLs of the POSTs the page makes from now on."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    return sent


def test_keys_act_on_the_focused_row_and_enter_opens_it(
    queue: Any, server: str, factory: sessionmaker[Session], seed: Seed
) -> None:
    first, second = seed.cases[FIRST], seed.cases[SECOND]
    assert highlighted(queue) == first

    queue.focus(row_link(second))  # a click or Tab would do the same
    assert highlighted(queue) == second  # the highlight follows the focus
    with queue.expect_navigation():
        queue.keyboard.press("a")

    with factory() as session:
        assert session.get(Case, second).assignee_id == seed.users["ana"]
        assert session.get(Case, first).assignee_id is None
    assert queue.inner_text(".undo-bar .undo-label") == f"Case {second} assigned to you"

    queue.keyboard.press("k")  # the focus moves up a row, and the highlight with it
    assert highlighted(queue) == first
    assert queue.evaluate("document.activeElement.closest('tr').dataset.caseId") == str(first)
    queue.focus(row_link(second))
    with queue.expect_navigation():
        queue.keyboard.press("Enter")
    assert queue.url == f"{server}/cases/{second}"


def test_undo_puts_the_case_back_and_leaves_two_audit_rows(
    queue: Any, factory: sessionmaker[Session], seed: Seed, tmp_path: Path
) -> None:
    first = seed.cases[FIRST]
    queue.focus(row_link(first))
    with queue.expect_navigation():
        queue.keyboard.press("c")
    assert queue.inner_text(".undo-bar .undo-label") == f"Case {first} confirmed"
    queue.screenshot(path=str(tmp_path / "queue-undo.png"), full_page=True)
    with factory() as session:
        assert session.get(Case, first).state == "confirmed"

    with queue.expect_navigation():
        queue.click(".undo-bar button")

    assert f"Undone: case {first} is as before." in queue.inner_text("ul.flashes")
    assert queue.locator(".undo-bar").count() == 0
    with factory() as session:
        assert session.get(Case, first).state == "new"
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "case", AuditEvent.object_id == str(first))
            .where(AuditEvent.action.in_(("case.confirmed", "case.undo")))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == ["case.confirmed", "case.undo"]


def test_an_invalid_key_says_why_and_sends_nothing(
    queue: Any, factory: sessionmaker[Session], seed: Seed, tmp_path: Path
) -> None:
    first = seed.cases[FIRST]
    sent = posts(queue)
    url = queue.url
    queue.focus(row_link(first))

    queue.keyboard.press("e")  # a new case can't be escalated

    message = queue.locator("#triage-message")
    assert message.is_visible()
    assert message.inner_text() == (
        f"Case {first} is new: it can't be escalated from here. "
        "Keys for it: c confirm, d dismiss, a assign to me."
    )
    queue.wait_for_timeout(300)
    queue.screenshot(path=str(tmp_path / "queue-invalid-key.png"))
    assert sent == []
    assert queue.url == url
    with factory() as session:
        assert session.get(Case, first).state == "new"


def test_with_shortcuts_off_no_single_key_acts(
    queue: Any, factory: sessionmaker[Session], seed: Seed
) -> None:
    first = seed.cases[FIRST]
    toggle = queue.locator("#shortcuts-toggle")
    assert toggle.inner_text() == "Keyboard shortcuts: on"
    toggle.click()
    assert toggle.inner_text() == "Keyboard shortcuts: off"
    assert toggle.get_attribute("aria-pressed") == "false"
    queue.reload()  # remembered
    assert queue.locator("#shortcuts-toggle").inner_text() == "Keyboard shortcuts: off"
    sent = posts(queue)
    url = queue.url

    queue.focus(row_link(first))
    for key in ("j", "c", "a", "x", "e", "d", "o"):
        queue.keyboard.press(key)
    queue.wait_for_timeout(300)

    assert highlighted(queue) == first
    assert sent == [] and queue.url == url
    assert queue.locator("#dismiss-dialog[open]").count() == 0
    assert queue.locator(f"tr[data-case-id='{first}'] input[type=checkbox]:checked").count() == 0
    with factory() as session:
        case = session.get(Case, first)
        assert (case.state, case.assignee_id) == ("new", None)


def test_the_selection_survives_a_reload(queue: Any, seed: Seed) -> None:
    first, second = seed.cases[FIRST], seed.cases[SECOND]
    queue.focus(row_link(first))
    queue.keyboard.press("x")
    queue.check(f"tr[data-case-id='{second}'] input[type=checkbox]")

    queue.reload()

    boxes = queue.locator("tr.case input[type=checkbox]:checked")
    assert sorted(int(v) for v in boxes.evaluate_all("l => l.map(b => b.value)")) == sorted(
        [first, second]
    )
