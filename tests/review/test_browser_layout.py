"""No page is wider than the window: queue, case, audit, sources and the digest e-mail, in
Debian's Chromium at 1280x800 and 390x844 (a phone), the app on 127.0.0.1.

A case with a very long wallet, URL and seller name is seeded: long tokens must wrap, tables
stack on a narrow screen, and the header wraps so "Log out" stays on screen. Screenshots of every
page at both sizes are saved in the test's output folder. Skipped where /usr/bin/chromium is
missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from review.digest.build import build_digest
from review.digest.render import render_html
from storage.crawls import finish_crawl_run, start_crawl_run
from storage.db import transaction
from storage.listings import AnalysisRecord, store_listing
from tests.review.browser_testkit import BROWSER_TEST, sign_in
from tests.review.review_testkit import (
    NOW,
    PASSWORD,
    WEEK,
    Seed,
    _capture,
    indicator,
    mention,
)

pytestmark = BROWSER_TEST

SIZES = {"wide": (1280, 800), "phone": (390, 844)}
# Invented tokens with no place to break: a wallet-like string, a path and a seller name.
LONG_WALLET = "bc1q" + "zx9v7w3k" * 14
LONG_PATH = "/item/" + "pure-crystal-powder-" * 6 + "x" * 60 + "?ref=" + "9f3a" * 20
LONG_SELLER = "chemking" + "_" * 3 + "X" * 70
LONG_TEXT = (
    f"Buy fentanyl powder, 99% purity. Pay to {LONG_WALLET} only.\n"
    f"Contact {LONG_SELLER} on wickr. Details at http://127.0.0.1:8421{LONG_PATH}"
)


@pytest.fixture
def long_case(factory: sessionmaker[Session], seed: Seed) -> int:
    """A case whose wallet, URL, seller and text are single tokens of 100 characters or more."""
    url = f"http://127.0.0.1:8421{LONG_PATH}"
    with transaction(factory) as session:
        run = start_crawl_run(session, source_id=seed.source_id, now=NOW)
        stored = store_listing(
            session,
            source_id=seed.source_id,
            url=url,
            capture=_capture(session, run.id, url, NOW),
            title="Fentanyl " + "X" * 90,
            text=LONG_TEXT,
            fields={"seller": LONG_SELLER, "wallet": LONG_WALLET, "price": "$120/g"},
            analysis=AnalysisRecord(
                score=9.5,
                offer=True,
                mentions=[mention(LONG_TEXT, "fentanyl", "fentanyl", "Fentanyl", "fentanyl")],
                indicators=[
                    indicator(LONG_TEXT, LONG_WALLET, "wallet", LONG_WALLET, f"btc:{LONG_WALLET}"),
                    indicator(LONG_TEXT, LONG_SELLER, "contact", LONG_SELLER),
                    indicator(LONG_TEXT, "99% purity", "purity", "99%"),
                ],
                reasons=[{"text": f"names a wallet: {LONG_WALLET}", "weight": 1.5}],
            ),
            now=NOW,
        )
        finish_crawl_run(session, run, now=NOW, status="finished", stats={})
        assert stored.case is not None
        return stored.case.id


def _overflow(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => ({
                scroll: document.documentElement.scrollWidth,
                inner: window.innerWidth,
                wide: [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .slice(0, 5)
                    .map(e => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}`),
            })"""
        )
    )


def test_no_page_is_wider_than_the_window(
    browser_context: Any,
    server: str,
    long_case: int,
    seed: Seed,
    factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser_context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    with factory() as session:
        digest_html = render_html(build_digest(session, week=WEEK, now=NOW))
    (shots / "digest.html").write_text(digest_html, encoding="utf-8")

    def sign_in(username: str) -> None:
        page.context.clear_cookies()
        page.goto(f"{server}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")

    views = {
        "ana": {
            "queue": "/?state=all",
            "case-long": f"/cases/{long_case}",
            "case-fentanyl": f"/cases/{seed.cases['fentanyl']}",
            "case-xss": f"/cases/{seed.cases['xss']}",
            "sources": "/sources",
        },
        "adm": {"audit": "/audit", "sources-admin": "/sources"},
    }
    too_wide: dict[str, dict[str, Any]] = {}
    for username, paths in views.items():
        sign_in(username)
        for name, path in paths.items():
            for size, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                page.goto(f"{server}{path}")
                page.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
                measured = _overflow(page)
                if measured["scroll"] > measured["inner"]:
                    too_wide[f"{name}-{size}"] = measured
                logout = page.locator("header button", has_text="Log out").bounding_box()
                if logout is None or logout["x"] + logout["width"] > width:
                    too_wide[f"{name}-{size}-log-out"] = {"box": logout}
    # A page of its own: set on one of the app's pages, the digest would fall under the app's CSP
    # (no inline style), which mail clients do not apply.
    page = browser_context.new_page()
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto((shots / "digest.html").as_uri())
        page.screenshot(path=str(shots / f"digest-{size}.png"), full_page=True)
        measured = _overflow(page)
        if measured["scroll"] > measured["inner"]:
            too_wide[f"digest-{size}"] = measured

    assert too_wide == {}, "\n".join(f"{k}: {v}" for k, v in too_wide.items())
    assert violations == []
    print(f"screenshots in {shots}")


def test_the_skip_link_moves_focus_to_the_content(
    browser_context: Any, server: str, seed: Seed
) -> None:
    page = browser_context.new_page()
    sign_in(page, server)
    page.goto(f"{server}/sources")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    assert skip.inner_text() == "Skip to content"
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # on screen once focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"


def test_the_dark_colour_scheme_follows_the_system(
    browser_context: Any, server: str, long_case: int, tmp_path: Path
) -> None:
    page = browser_context.new_page()
    page.emulate_media(color_scheme="dark")
    sign_in(page, server)
    for name, path in (("queue", "/?state=all"), ("case-long", f"/cases/{long_case}")):
        page.goto(f"{server}{path}")
        page.screenshot(path=str(tmp_path / f"{name}-dark.png"), full_page=True)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        ink = page.evaluate("getComputedStyle(document.body).color")
        assert (background, ink) == ("rgb(18, 22, 28)", "rgb(228, 232, 238)"), name
