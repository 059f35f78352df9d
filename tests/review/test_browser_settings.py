"""An analyst's own settings in Debian's Chromium, the app on 127.0.0.1: saves a queue filter,
opens the queue from it, picks a time zone and sees the queue's times change.

Screenshots of the queue with its saved filter, the settings page (also at 390 px) and the
queue in the new zone are saved in the test's output folder. Skipped where /usr/bin/chromium
is missing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditEvent, SavedFilter
from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.review_testkit import Seed

pytestmark = BROWSER_TEST

NAME = "Everything, by state"


def test_an_analyst_saves_a_filter_and_picks_a_time_zone(
    server: str,
    browser_context: object,
    factory: sessionmaker[Session],
    seed: Seed,
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser_context.new_page()  # type: ignore[attr-defined]
    violations = csp_violations(page)
    sign_in(page, server)

    # Filter the queue, then save the filter under a name.
    page.select_option("#state", "all")
    with page.expect_navigation():
        page.click("form.filter:not(.save-filter) button[type=submit]")
    page.fill("#filter-name", NAME)
    with page.expect_navigation():
        page.click("form.save-filter button[type=submit]")
    assert page.url == f"{server}/?state=all"
    assert f"Filter “{NAME}” saved." in page.inner_text("ul.flashes")
    with factory() as session:
        saved = session.scalar(select(SavedFilter))
        assert saved is not None and (saved.name, saved.query) == (NAME, "state=all")
    page.screenshot(path=str(shots / "queue-saved-filter.png"), full_page=True)

    # Back on the default queue (new cases), the saved filter brings every case back.
    page.goto(f"{server}/")
    assert page.input_value("#state") == "new"
    with page.expect_navigation():
        page.click(f"a.saved-filter:text-is('{NAME}')")
    assert page.url == f"{server}/?state=all"
    assert page.input_value("#state") == "all"
    assert len(page.query_selector_all("tr.case")) == len(seed.cases)
    assert page.get_attribute("a.saved-filter", "aria-current") == "true"
    utc_times = {text.strip() for text in page.locator("td.first-seen").all_inner_texts()}
    assert utc_times == {"2026-11-25 11:00 UTC", "2026-11-18 12:00 UTC"}

    # A time zone of one's own: the settings page, from the top bar.
    with page.expect_navigation():
        page.click("a.settings-link")
    assert page.input_value("#time-zone") == "UTC"
    assert page.inner_text("tr.saved-filter-row td[data-label=Name]") == NAME
    page.select_option("#time-zone", "Asia/Tokyo")
    with page.expect_navigation():
        page.click("section.time-zone button[type=submit]")
    assert "Times are shown in Asia/Tokyo now." in page.inner_text("ul.flashes")
    assert page.input_value("#time-zone") == "Asia/Tokyo"
    assert page.inner_text("strong.now") == "2026-11-25 21:00 JST"
    page.screenshot(path=str(shots / "settings.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the settings page is {width} px wide at 390 px"
    page.screenshot(path=str(shots / "settings-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    with page.expect_navigation():
        page.click(f"a:text-is('{NAME}')")
    tokyo_times = {text.strip() for text in page.locator("td.first-seen").all_inner_texts()}
    assert tokyo_times == {"2026-11-25 20:00 JST", "2026-11-18 21:00 JST"}
    page.screenshot(path=str(shots / "queue-tokyo.png"), full_page=True)

    with factory() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("user.%"))
                .order_by(AuditEvent.id)
            )
        )
    assert actions[-2:] == ["user.filter_saved", "user.time_zone_set"]
    assert violations == []
    for name in ("queue-saved-filter.png", "settings.png", "settings-390.png", "queue-tokyo.png"):
        assert (shots / name).stat().st_size > 10_000
    print(f"screenshots in {shots}")
