"""An analyst works a seller in Debian's Chromium, the app on 127.0.0.1: finds it by part of
its phone number, reads its page (two handles on two sites, one phone), merges another seller
into it and undoes the merge, with no Content-Security-Policy violation.

Screenshots are saved in the test's output folder. Skipped where /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.test_sellers import Sellers, sellers  # noqa: F401  (a fixture)

pytestmark = BROWSER_TEST


def listed(page: object) -> list[str]:
    rows = page.query_selector_all("tr.seller-listing")  # type: ignore[attr-defined]
    return [row.get_attribute("data-listing-id") for row in rows]


def test_an_analyst_merges_a_seller_and_undoes_it(
    server: str,
    browser_context: object,
    sellers: Sellers,  # noqa: F811
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser_context.new_page()  # type: ignore[attr-defined]
    violations = csp_violations(page)
    sign_in(page, server)

    with page.expect_navigation():
        page.click("nav.topnav a[href='/sellers']")
    page.fill("#q", "900482")
    with page.expect_navigation():
        page.click("form.filter button[type=submit]")
    with page.expect_navigation():
        page.click(f"tr.seller[data-seller-id='{sellers.seller}'] a.seller-link")
    assert page.url.endswith(f"/sellers/{sellers.seller}")
    identifiers = page.inner_text("section.seller-identifiers")
    assert "telegram bluecedar_rc" in identifiers and "wickr nightjar_supply" in identifiers
    assert "phone +447700900482 · 2 listings" in identifiers
    assert listed(page) == [str(sellers.ad), str(sellers.thread)]
    page.screenshot(path=str(shots / "seller.png"), full_page=True)

    page.fill("#merge-other", str(sellers.other))
    page.fill("#merge-note", "same photos and prices")
    with page.expect_navigation():
        page.click("form.merge-seller button[type=submit]")
    assert f"Seller {sellers.other} merged into seller {sellers.seller}." in page.inner_text(
        "ul.flashes"
    )
    assert listed(page) == [str(sellers.ad), str(sellers.thread), str(sellers.lone)]
    assert "same photos and prices" in page.inner_text("section.seller-changes")
    page.screenshot(path=str(shots / "merged.png"), full_page=True)

    with page.expect_navigation():
        page.click("form.undo-change button[type=submit]")
    assert "was undone" in page.inner_text("ul.flashes")
    assert listed(page) == [str(sellers.ad), str(sellers.thread)]
    assert "undone by ana" in page.inner_text("section.seller-changes")
    assert page.query_selector("form.undo-change") is None

    assert violations == []
    print(f"screenshots in {shots}")
