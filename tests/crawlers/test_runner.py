from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawlers.errors import ConfigError
from crawlers.runner import crawl_env, run_crawl
from tests.crawlers.harness import CONTACT_URL


def test_the_child_environment(tmp_path: Path) -> None:
    base = {"SYNTHWATCH_HOME": str(tmp_path), "SYNTHWATCH_ALLOW_LOOPBACK": "1", "PATH": "/bin"}
    sources = [tmp_path / "a.toml", tmp_path / "b.toml"]

    env = crawl_env(base, sources, allow_loopback=False)

    assert env["SCRAPY_SETTINGS_MODULE"] == "crawlers.settings"
    assert env["SYNTHWATCH_SOURCES"] == os.pathsep.join(str(p) for p in sources)
    assert "SYNTHWATCH_ALLOW_LOOPBACK" not in env
    assert env["PATH"] == "/bin" and env["SYNTHWATCH_HOME"] == str(tmp_path)
    assert crawl_env(base, sources, allow_loopback=True)["SYNTHWATCH_ALLOW_LOOPBACK"] == "1"


@pytest.mark.parametrize("source_id", ["-s", "--set=X", "Shop", "a b", ""])
def test_only_source_ids_reach_the_command_line(tmp_path: Path, source_id: str) -> None:
    with pytest.raises(ValueError, match="not a source id"):
        run_crawl(source_id, sources=[], env={"SYNTHWATCH_HOME": str(tmp_path)}, timeout=1)


@pytest.mark.slow
def test_the_environment_given_is_set_on_top_of_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHWATCH_DATABASE_URL", "sqlite:///kept.db")
    monkeypatch.setenv("SYNTHWATCH_ALLOW_LOOPBACK", "1")
    home = tmp_path / "home"

    outcome = run_crawl(
        "no-such-source",
        sources=[],
        env={
            "SYNTHWATCH_HOME": str(home),
            "SCRAPY_SETTINGS_MODULE": "ignored",
            "SYNTHWATCH_CONTACT_URL": CONTACT_URL,
        },
        timeout=60,
    )

    assert outcome.exit_code != 0 and outcome.run_id is None and not outcome.ok
    assert outcome.log_path.parent == home / "logs"
    assert "Spider not found: no-such-source" in outcome.log_path.read_text()


@pytest.mark.parametrize("contact", [None, "", "  ", "example.org", "ftp://example.org/"])
def test_no_crawl_starts_without_a_contact_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contact: str | None
) -> None:
    monkeypatch.delenv("SYNTHWATCH_CONTACT_URL", raising=False)
    env = {"SYNTHWATCH_HOME": str(tmp_path / "home")}
    if contact is not None:
        env["SYNTHWATCH_CONTACT_URL"] = contact

    with pytest.raises(ConfigError, match="SYNTHWATCH_CONTACT_URL"):
        run_crawl("shop", sources=[], env=env, timeout=60)

    assert not (tmp_path / "home").exists()  # no log, no child process


@pytest.mark.slow
def test_a_contact_url_may_come_as_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNTHWATCH_CONTACT_URL", raising=False)

    outcome = run_crawl(
        "no-such-source",
        sources=[],
        env={"SYNTHWATCH_HOME": str(tmp_path)},
        settings={"SYNTHWATCH_CONTACT_URL": "mailto:crawler@example.org"},
        timeout=60,
    )

    assert "Spider not found: no-such-source" in outcome.log_path.read_text()
