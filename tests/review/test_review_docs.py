"""docs/review.md keeps up with the code: states, transitions, roles, routes, settings, actions."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from review.workflow import TRANSITIONS
from storage.models import CASE_STATES, ROLES

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
PUBLIC = {"/login", "/logout", "/static/<path:filename>"}


def test_every_state_transition_and_role_is_documented() -> None:
    for state in CASE_STATES:
        assert f"`{state}`" in DOC, state
    for from_state, to_state in TRANSITIONS:
        assert re.search(rf"\| `{from_state}` \| `{to_state}` \|", DOC), (from_state, to_state)
    for role in ROLES:
        assert role in DOC


def test_every_route_is_in_the_role_table(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC:
            continue
        documented = re.sub(r"<(int:)?\w+_id>", "ID", rule.rule).replace("<fmt>", "csv")
        assert (
            f"`GET {documented}" in DOC
            or f"`POST {documented}`" in DOC
            or (f"{documented}`" in DOC)
        ), rule.rule


def test_every_setting_is_documented() -> None:
    source = (ROOT / "review" / "settings.py").read_text(encoding="utf-8")
    for name in set(re.findall(r"SYNTHWATCH_[A-Z_]+", source)):
        assert f"`{name}`" in DOC, name
        assert f"`{name}`" in README, name


def test_every_audit_action_of_the_review_app_is_documented() -> None:
    paths = [
        p
        for p in (ROOT / "review").rglob("*.py")
        if not p.name.startswith(("digest", "mail", "outbox"))  # docs/digest.md has those
    ]
    paths += [ROOT / "synthwatch" / "commands" / f"{m}.py" for m in ("audit", "referral", "users")]
    actions = {f"case.{to_state}" for _from, to_state in TRANSITIONS}
    for path in paths:
        actions |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    assert {"auth.denied", "evidence.viewed", "referral.exported", "user.created"} <= actions
    for action in sorted(actions):
        assert f"`{action}`" in DOC, action
