"""The README's demo section names every account the demo creates and what it shows."""

from __future__ import annotations

import tomllib
from pathlib import Path

from demo.second_day import changed_paths
from synthwatch.demo import DEMO_USERS, SECOND_DAY_SOURCE, SIGNING_KEY_FILE

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## What `make demo` shows", 1)[1].split("\n## ", 1)[0]


def test_every_demo_account_and_its_role_is_listed() -> None:
    for username, role in DEMO_USERS.items():
        assert f"| `{username}` | {role} |" in SECTION, username


def test_what_the_demo_shows_is_described() -> None:
    expected = tomllib.loads((ROOT / "demo" / "expected.toml").read_text(encoding="utf-8"))
    for shared in expected["shared"]:
        assert f"`{shared['key']}`" in SECTION and shared["written"] in SECTION
    assert "second day" in SECTION and "demo/second_day.py" in SECTION
    assert changed_paths() and SECOND_DAY_SOURCE.removeprefix("demo-") in SECTION
    assert f"var/{SIGNING_KEY_FILE}" in SECTION
    assert "var/demo-mail/" in SECTION and "outbox" in SECTION
    assert "port 8000 is taken" in SECTION
