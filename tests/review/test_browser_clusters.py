"""Cluster triage in Debian's Chromium, the app on 127.0.0.1: an offer reposted three times is
one queue row; the analyst splits a wrong listing out on the cluster's page, confirms the rest
with the row's checkbox (the other cases follow it), and dismisses a whole cluster with `d`.

Screenshots are saved in the test's output folder. Skipped where /usr/bin/chromium is missing.
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
from tests.review.test_clusters import add_reposts

pytestmark = BROWSER_TEST


@pytest.fixture
def reposts(factory: sessionmaker[Session], seed: Seed) -> tuple[int, list[int], list[int]]:
    return add_reposts(factory, seed)


@pytest.fixture
def queue(server: str, browser_context: Any, tmp_path: Path, reposts: object) -> Iterator[Any]:
    page = browser_context.new_page()
    violations = csp_violations(page)
    sign_in(page, server)
    yield page
    page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
    assert violations == []


def states(factory: sessionmaker[Session], case_ids: list[int]) -> list[str]:
    with factory() as session:
        return [session.get_one(Case, i).state for i in case_ids]


def test_an_analyst_splits_a_cluster_then_confirms_the_rest_in_bulk(
    queue: Any, factory: sessionmaker[Session], reposts: tuple[int, list[int], list[int]]
) -> None:
    cluster_id, cases, listings = reposts
    row = queue.locator(f"tr[data-cluster-id='{cluster_id}']")
    assert row.get_attribute("data-case-id") == str(cases[0])
    assert "3 near-duplicates" in row.locator("a.cluster-badge").inner_text()

    with queue.expect_navigation():
        row.locator("a.cluster-badge").click()
    assert queue.locator("tr.cluster-listing").count() == 3
    wrong = queue.locator(f"tr.cluster-listing[data-listing-id='{listings[2]}']")
    wrong.locator("input[name=reason]").fill("another vendor's batch")
    with queue.expect_navigation():
        wrong.locator("button", has_text="Split from cluster").click()
    assert "split from cluster" in queue.inner_text("li.flash-success")
    assert queue.locator("tr.cluster-listing").count() == 2

    with queue.expect_navigation():
        queue.click("text=Back to the queue")
    row = queue.locator(f"tr[data-cluster-id='{cluster_id}']")
    assert "2 near-duplicates" in row.locator("a.cluster-badge").inner_text()
    assert queue.locator(f"tr.case[data-case-id='{cases[2]}']").count() == 1  # its own row
    row.locator("td.select input[type=checkbox]").first.check()
    with queue.expect_navigation():
        queue.click("#bulk-form button[value=confirm]")
    assert queue.locator("ul.bulk-cases li").count() == 2  # the row stood for two cases
    with queue.expect_navigation():
        queue.click("button.bulk-yes")

    assert states(factory, cases) == ["confirmed", "confirmed", "new"]
    with factory() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("cluster.split") == 1 and actions.count("case.confirmed") == 2


def test_d_on_a_cluster_row_dismisses_the_whole_cluster(
    queue: Any, factory: sessionmaker[Session], reposts: tuple[int, list[int], list[int]]
) -> None:
    cluster_id, cases, _listings = reposts
    queue.focus(f"tr[data-cluster-id='{cluster_id}'] a.row-link")
    queue.keyboard.press("d")
    queue.select_option("#dialog-reason", "duplicate of another case")
    with queue.expect_navigation():
        queue.click("#dismiss-form button[type=submit]")

    assert states(factory, cases) == ["dismissed"] * 3
    assert f"Cluster {cluster_id}: 3 cases dismissed" in queue.inner_text(".undo-bar")
    with queue.expect_navigation():
        queue.click(".undo-bar button.undo-button")
    assert states(factory, cases) == ["new"] * 3
