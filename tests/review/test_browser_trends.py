"""An analyst opens the trends page in Debian's Chromium, the app on 127.0.0.1: the chart, a PNG
of the app's own, loads under the Content-Security-Policy, and choosing fewer weeks redraws it.

A screenshot of the page is saved in the test's output folder. Skipped where /usr/bin/chromium
is missing.
"""

from __future__ import annotations

from pathlib import Path

from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.review_testkit import Seed

pytestmark = BROWSER_TEST

CHART_LOADED = "img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0"


def test_an_analyst_sees_the_trend_chart_load(
    server: str, browser_context: object, seed: Seed, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser_context.new_page()  # type: ignore[attr-defined]
    violations = csp_violations(page)
    charts: list[tuple[int, str]] = []
    page.on(
        "response",
        lambda response: (
            charts.append((response.status, response.headers.get("content-type", "")))
            if "/trends/chart.png" in response.url
            else None
        ),
    )
    sign_in(page, server)

    with page.expect_navigation():
        page.click("nav.topnav a[href='/trends']")
    assert page.url.endswith("/trends")
    page.wait_for_function(f"({CHART_LOADED})(document.getElementById('trend-chart'))")
    size = page.eval_on_selector("#trend-chart", "img => [img.naturalWidth, img.naturalHeight]")
    assert size == [720, 520]
    assert charts == [(200, "image/png")]
    assert "Fentanyl" in page.inner_text("section.substances")
    page.screenshot(path=str(shots / "trends.png"), full_page=True)

    page.fill("#weeks", "2")
    with page.expect_navigation():
        page.click("form.filter button[type=submit]")
    assert page.url.endswith("/trends?weeks=2")
    page.wait_for_function(f"({CHART_LOADED})(document.getElementById('trend-chart'))")
    assert page.eval_on_selector("#trend-chart", "img => img.naturalWidth") == 720
    assert len(page.query_selector_all("tr.week")) == 2
    assert [status for status, _type in charts] == [200, 200]

    assert violations == []
    assert (shots / "trends.png").stat().st_size > 10_000
    print(f"screenshots in {shots}")
