"""An analyst makes a watch rule in Debian's Chromium, the app on 127.0.0.1: opens it from the
top bar, types a search the app can't read and is told why with the form kept, fixes it, saves
the rule, sees its alert after a new offer, and disables it.

Screenshots are saved in the test's output folder. Skipped where /usr/bin/chromium is missing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.alerts.deliver import raise_alerts
from review.alerts.settings import AlertSettings
from storage.db import transaction
from storage.listings import AnalysisRecord, MentionRecord
from storage.models import AuditEvent, WatchRule
from tests.factories import add_listing
from tests.review.browser_testkit import BROWSER_TEST, csp_violations, sign_in
from tests.review.review_testkit import NOW, Seed

pytestmark = BROWSER_TEST


def test_an_analyst_makes_a_watch_rule_and_sees_its_alert(
    server: str,
    browser_context: Any,
    factory: sessionmaker[Session],
    seed: Seed,
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser_context.new_page()
    violations = csp_violations(page)
    sign_in(page, server)
    with page.expect_navigation():
        page.click("nav.topnav a:has-text('Watch rules')")
    assert "No watch rules yet" in page.inner_text("section.watch")

    page.fill("#rule-name", "Nitazene powder")
    page.select_option("#rule-class", "nitazene")
    page.fill("#rule-search", "powder AND")
    page.fill("#rule-min-score", "0.5")
    with page.expect_navigation():
        page.click("form.watch-form button[type=submit]")
    assert "AND needs a term on each side (at the end)." in page.inner_text("li.flash-error")
    assert page.input_value("#rule-search") == "powder AND"
    assert page.input_value("#rule-name") == "Nitazene powder"
    page.screenshot(path=str(shots / "bad-rule.png"), full_page=True)

    page.fill("#rule-search", "powder OR hcl")
    with page.expect_navigation():
        page.click("form.watch-form button[type=submit]")
    assert "saved" in page.inner_text("ul.flashes")
    assert page.inner_text("h1") == "Watch rule “Nitazene powder”"
    assert "No alerts yet" in page.inner_text("section.watch-rule-page")
    with factory() as session:
        (rule,) = session.scalars(select(WatchRule))
        assert (rule.substance_class, rule.search, rule.min_score) == (
            "nitazene",
            "powder OR hcl",
            0.5,
        )

    # A new nitazene offer after the rule: the next matching run raises its alert.
    text = "Metonitazene HCl powder, 1g"
    with transaction(factory) as session:
        add_listing(
            session,
            "http://127.0.0.1:8421/item/meto",
            NOW + timedelta(minutes=1),
            source_id=seed.source_id,
            text=text,
            title="Metonitazene HCl",
            analysis=AnalysisRecord(
                score=0.9,
                offer=True,
                mentions=[
                    MentionRecord(
                        "metonitazene", "Metonitazene", "nitazene", "", 0, 12, "Metonitazene", 1
                    )
                ],
            ),
        )
        raise_alerts(session, now=NOW + timedelta(minutes=2), settings=AlertSettings())
    page.reload()
    (row,) = page.query_selector_all("tr.watch-alert")
    assert "Metonitazene HCl" in row.inner_text()
    page.screenshot(path=str(shots / "rule-with-alert.png"), full_page=True)

    with page.expect_navigation():
        page.click("div.rule-state button[type=submit]")
    assert "disabled" in page.inner_text("ul.flashes")
    with page.expect_navigation():
        page.click("a:has-text('← Watch rules')")
    assert "disabled" in page.inner_text("tr.watch-rule")
    assert page.inner_text("tr.watch-rule td[data-label=Alerts]") == "1"
    with factory() as session:
        actions = [
            a
            for a in session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_type == "watch_rule")
            )
        ]
    assert actions == ["watch.rule_created", "watch.rule_disabled"]
    assert violations == []
