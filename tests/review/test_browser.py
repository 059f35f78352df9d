"""The app in a real browser: Debian's Chromium driven by Playwright, the app on 127.0.0.1.

An analyst triages three cases with the keyboard and escalates one; a legal reviewer approves
it and exports its referral package, which verifies. Screenshots of the queue and the case page
are saved in the test's output folder. Skipped where /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from review.referral_check import verify_package
from review.signing import load_signing_key
from storage.models import Case
from tests.review.browser_testkit import BROWSER_TEST
from tests.review.evidence_testkit import EvidenceCase, add_evidence_case
from tests.review.review_testkit import PASSWORD, SIGNING_KEY, Seed

pytestmark = BROWSER_TEST


@pytest.fixture
def three_cases(factory: sessionmaker[Session], home: Path, seed: Seed) -> list[EvidenceCase]:
    """Three new cases with real evidence, scored above everything seeded."""
    return [
        add_evidence_case(
            factory,
            home,
            url=f"http://127.0.0.1:8421/item/browser-{n}",
            score=9.9 - n / 10,
            title=f"Browser case {n}",
        )
        for n in range(3)
    ]


def test_keyboard_triage_legal_approval_and_referral_export(
    server: str,
    browser_context: object,
    three_cases: list[EvidenceCase],
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    context = browser_context
    shots = tmp_path / "screenshots"
    shots.mkdir()
    first, second, third = (c.case_id for c in three_cases)
    page = context.new_page()  # type: ignore[attr-defined]
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    def sign_in(username: str) -> None:
        page.goto(f"{server}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")

    def selected() -> int:
        return int(page.get_attribute("tr.case.selected", "data-case-id"))

    def press(key: str) -> None:
        with page.expect_navigation():
            page.keyboard.press(key)

    # The analyst triages the top three new cases without touching the mouse.
    sign_in("ana")
    assert selected() == first
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert selected() == third
    page.keyboard.press("k")
    page.keyboard.press("k")
    press("c")  # confirm the first
    assert page.inner_text(".undo-bar .undo-label") == f"Case {first} confirmed"
    assert selected() == second
    page.keyboard.press("d")  # dismiss the second, with a reason from the list
    page.wait_for_selector("#dismiss-dialog[open]")
    page.select_option("#dialog-reason", index=4)
    with page.expect_navigation():
        page.click("#dismiss-form button[type=submit]")
    assert selected() == third
    press("c")  # confirm the third
    page.goto(f"{server}/?state=confirmed")
    assert selected() == first
    press("e")  # and escalate the first to legal
    page.goto(f"{server}/?state=all")
    page.screenshot(path=str(shots / "queue.png"), full_page=True)
    with page.expect_navigation():
        page.click("header button[type=submit]")  # log out

    # A legal reviewer opens it from the escalated queue and approves it.
    sign_in("lee")
    assert selected() == first
    press("o")
    assert page.url.endswith(f"/cases/{first}")
    page.fill("#note-approved", "Public offer of carfentanil; referral to the national unit")
    with page.expect_navigation():
        page.click("form.action-approved button[type=submit]")
    assert page.inner_text("span.state-badge") == "approved"
    assert page.frame_locator("iframe.capture-frame").locator("h1").inner_text() == (
        "Carfentanil HCl, 99%"
    )
    page.screenshot(path=str(shots / "case.png"), full_page=True)

    # The referral package downloads and verifies.
    with page.expect_download() as download:
        page.click("a.referral")
    package = tmp_path / "referral.zip"
    download.value.save_as(str(package))
    public = load_signing_key(SIGNING_KEY).public_key()
    assert verify_package(package, public) == []

    with factory() as session:
        states = [session.get(Case, c).state for c in (first, second, third)]
        decided = [(d.to_state, d.actor.username) for d in session.get(Case, first).decisions]
    assert states == ["approved", "dismissed", "confirmed"]
    assert decided == [("confirmed", "ana"), ("escalated", "ana"), ("approved", "lee")]
    assert violations == []
    for name in ("queue.png", "case.png"):
        assert (shots / name).stat().st_size > 10_000
    print(f"screenshots in {shots}")
