"""An analyst checks a miss in Debian's Chromium, the app on 127.0.0.1: finds an unflagged
listing in the listings view, opens a case for it with a reason and lands on the case page.

Screenshots of the listings view, the listing and the new case are saved in the test's output
folder. Skipped where /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditEvent, Case
from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.review_testkit import Seed

pytestmark = BROWSER_TEST

REASON = "Reads as news, but lists a price per gram: check it"


def test_an_analyst_opens_a_case_for_an_unflagged_listing(
    server: str,
    browser_context: object,
    factory: sessionmaker[Session],
    seed: Seed,
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    listing_id = seed.listings["news"]
    page = browser_context.new_page()  # type: ignore[attr-defined]
    violations = csp_violations(page)
    sign_in(page, server)

    # From the queue, which shows flagged cases only, to every listing.
    with page.expect_navigation():
        page.click("nav.topnav a[href='/listings']")
    assert len(page.query_selector_all("tr.listing")) == len(seed.listings) + 1
    page.select_option("#flag", "unflagged")
    page.select_option("#case", "without")
    page.fill("#q", "nitazenes")
    with page.expect_navigation():
        page.click("form.filter button[type=submit]")
    found = page.query_selector_all("tr.listing")
    assert [row.get_attribute("data-listing-id") for row in found] == [str(listing_id)]
    assert page.inner_text("tr.listing td.score").strip() == "0.50"
    assert "no case" in page.inner_text("tr.listing td.case")
    page.screenshot(path=str(shots / "listings.png"), full_page=True)

    with page.expect_navigation():
        page.click("tr.listing td.title a")
    assert page.url.endswith(f"/listings/{listing_id}")
    assert "police warn about nitazenes" in page.inner_text("div.listing-text")
    # Its evidence file is missing: the page says so, and still offers the case.
    assert "Not verifiable" in page.inner_text("section.evidence")
    page.screenshot(path=str(shots / "listing.png"), full_page=True)
    page.fill("#open-reason", REASON)
    with page.expect_navigation():
        page.click("form.open-case button[type=submit]")

    with factory() as session:
        case = session.scalar(select(Case).where(Case.listing_id == listing_id))
        assert case is not None
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "case.opened_by_hand"))
    assert event is not None and event.detail["reason"] == REASON and event.actor == "ana"
    assert page.url.endswith(f"/cases/{case.id}")
    assert f"Case {case.id} opened for listing {listing_id}." in page.inner_text("main")
    assert page.inner_text("span.state-badge") == "new"
    assert "case.opened_by_hand" in page.inner_text("section.history")
    page.screenshot(path=str(shots / "case.png"), full_page=True)

    assert violations == []
    for name in ("listings.png", "listing.png", "case.png"):
        assert (shots / name).stat().st_size > 10_000
    print(f"screenshots in {shots}")
