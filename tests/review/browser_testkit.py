"""What the browser tests share: Debian's Chromium, and the steps every one of them takes.

The `server` and `browser_context` fixtures are in tests/review/conftest.py; after each test
its screenshots are copied to $SYNTHWATCH_TEST_ARTIFACTS/screenshots/<test>/ when that is set.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.review.review_testkit import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every browser test module: `pytestmark = BROWSER_TEST`.
BROWSER_TEST = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]


# Where CI keeps the screenshots of the browser tests (.ci/run sets it); unset, they stay in
# each test's tmp_path.
ARTIFACTS_ENV = "SYNTHWATCH_TEST_ARTIFACTS"


def keep_screenshots(tmp_path: Path, test_name: str) -> None:
    """Copy the PNG screenshots a test saved under tmp_path to $SYNTHWATCH_TEST_ARTIFACTS."""
    root = os.environ.get(ARTIFACTS_ENV)
    if not root:
        return
    shots = [p for p in tmp_path.rglob("*.png") if "chromium-profile" not in p.parts]
    if not shots:
        return
    folder = Path(root) / "screenshots" / re.sub(r"[^\w.-]+", "_", test_name)
    folder.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copy2(shot, folder / shot.name)


def csp_violations(page: Any) -> list[str]:
    """Collect the page's Content-Security-Policy violations (the test asserts none)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def sign_in(page: Any, server: str, username: str = "ana") -> None:
    """Open the login page and sign in as `username` with the seeded password."""
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("section.login button[type=submit]")
