"""A session that ends under a typed note, in Debian's Chromium with the app on 127.0.0.1.

An analyst types a note into a case's dismiss form; the session ends (the idle timeout passes
on the app's clock, or the cookie is gone as after a restart with another key); sending the
form leads to the login page saying so, and signing in leads back to the case with the note in
its form, not sent. Screenshots of the login page and the restored form are saved in the
test's output folder. Skipped where /usr/bin/chromium is missing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Case
from tests.review.browser_testkit import BROWSER_TEST, csp_violations
from tests.review.review_testkit import PASSWORD, Clock, Seed

pytestmark = BROWSER_TEST

NOTE = "Same seller as case 1, new handle; the price list is copied word for word"
NOTE_FIELD = "form.action-dismissed [name=note]"


def sign_in(page: Any, username: str = "ana") -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("section.login button[type=submit]")


@pytest.mark.parametrize("how", ["idle timeout", "cookie gone"])
def test_a_note_typed_before_the_session_ended_is_back_after_signing_in(
    how: str,
    server: str,
    browser_context: Any,
    clock: Clock,
    factory: sessionmaker[Session],
    seed: Seed,
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    case_id = seed.cases["fentanyl"]
    page = browser_context.new_page()
    violations = csp_violations(page)
    page.goto(f"{server}/login")
    sign_in(page)
    page.goto(f"{server}/cases/{case_id}")
    page.fill(NOTE_FIELD, NOTE)

    if how == "idle timeout":
        clock.advance(timedelta(minutes=31))
    else:
        browser_context.clear_cookies()
    with page.expect_navigation():
        page.click("form.action-dismissed button[type=submit]")

    assert page.url.endswith(f"/login?next=/cases/{case_id}")
    assert "Your session ended; sign in to continue." in page.inner_text("ul[role=status]")
    page.screenshot(path=str(shots / "login.png"), full_page=True)
    sign_in(page)

    assert page.url.endswith(f"/cases/{case_id}")
    page.wait_for_selector("form.action-dismissed.kept")
    assert page.input_value(NOTE_FIELD) == NOTE
    assert page.evaluate("document.activeElement.name") == "note"
    assert "check it and send the form again" in page.inner_text("#kept-form")
    page.screenshot(path=str(shots / "restored.png"), full_page=True)
    with factory() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.state == "new"  # nothing was sent without the user

    with page.expect_navigation():
        page.click("form.action-dismissed button[type=submit]")  # the user sends it again
    with factory() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.state == "dismissed"
        assert case.decisions[-1].note.endswith(NOTE)
    assert violations == []
    for name in ("login.png", "restored.png"):
        assert (shots / name).stat().st_size > 5_000
