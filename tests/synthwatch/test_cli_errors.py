"""Bad input and a broken environment end a command in one line and a non-zero exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawlers.runner import CrawlOutcome
from synthwatch.cli import main
from tests.conftest import migrated_copy
from tests.factories import invented_source_toml

HUGE = "99999999999999999999"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("SYNTHWATCH_ALLOW_LOOPBACK", raising=False)
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    (tmp_path / "sources.toml").write_text("")
    return tmp_path


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """Return the one line a failed command wrote to stderr, checking it is one line."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["crawl", "../../etc", "--sources", "s.toml"], "'../../etc' is not a source id"),
        (["crawl", "shop", "--sources", "s.toml", "--timeout", "nan"], "number of seconds"),
        (["crawl-runs", "--limit", "1e20"], "--limit: must be a whole number"),
        (["crawl-runs", "--limit", HUGE], "--limit: must be a whole number"),
        (["evidence", "verify", "--run", "1e20"], "--run: must be a whole number"),
        (["evidence", "verify", "--run", HUGE], "--run: must be a whole number"),
        (["serve", "--port", "-1"], "--port: must be a whole number from 1 to 65535"),
        (["serve", "--port", "99999"], "--port: must be a whole number from 1 to 65535"),
        (["serve", "--port", "0"], "--port: must be a whole number from 1 to 65535"),
        (["referral", "build", HUGE, "--as", "x", "--out", "p.zip"], "must be a whole number"),
        (["digest", "retry", HUGE], "must be a whole number"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert problem in one_line_error(capsys)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("SYNTHWATCH_DATABASE_URL", "garbage", "SYNTHWATCH_DATABASE_URL is not a database URL"),
        ("SYNTHWATCH_DATABASE_URL", "nosuchdb://x/y", "SYNTHWATCH_DATABASE_URL is not a database"),
        # Nothing listens on port 1 of the loopback: the connection is refused at once.
        (
            "SYNTHWATCH_DATABASE_URL",
            "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/x",
            "cannot open the database at postgresql+psycopg://postgres:***@127.0.0.1:1/x",
        ),
        ("SYNTHWATCH_HOME", "/proc/no-such-home", "cannot create the state folder /proc/no-such"),
    ],
)
@pytest.mark.parametrize(
    "argv",
    [["crawl-runs"], ["db", "upgrade"], ["crawl", "shop", "--sources", "sources.toml"]],
)
def test_a_broken_environment_is_a_one_line_error(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    problem: str,
    argv: list[str],
) -> None:
    monkeypatch.setenv(variable, value)

    assert main(argv) == 2

    line = one_line_error(capsys)
    assert problem in line
    assert "s3cret" not in line


def test_an_unwritable_home_is_a_one_line_error(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = home / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SYNTHWATCH_HOME", str(blocker / "home"))

    assert main(["crawl-runs"]) == 2
    assert f"cannot create the state folder {blocker / 'home'}" in one_line_error(capsys)


class FakeCrawl:
    """Stand in for run_crawl: record the call, end as a finished run."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, source_id: str, **kwargs: Any) -> CrawlOutcome:
        self.calls.append(kwargs)
        return CrawlOutcome(source_id, 0, 0.1, Path("log"), run_id=1, status="finished")


@pytest.mark.parametrize(
    ("value", "allowed"), [("1", True), ("yes", True), ("", False), ("0", False)]
)
def test_crawl_passes_the_loopback_setting_on(
    home: Path, monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    monkeypatch.setenv("SYNTHWATCH_ALLOW_LOOPBACK", value)
    (home / "sources.toml").write_text(invented_source_toml())
    fake = FakeCrawl()
    monkeypatch.setattr("synthwatch.progress.run_crawl", fake)

    assert main(["crawl", "shop", "--sources", str(home / "sources.toml")]) == 0

    (call,) = fake.calls
    assert call["allow_loopback"] is allowed


@pytest.mark.parametrize(("value", "allowed"), [("1", True), ("", False)])
def test_the_scheduler_passes_the_loopback_setting_on(
    home: Path, monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    monkeypatch.setenv("SYNTHWATCH_ALLOW_LOOPBACK", value)
    made: list[dict[str, Any]] = []

    class Stop(Exception):
        pass

    def scheduler(*args: Any, **kwargs: Any) -> None:
        made.append(kwargs)
        raise Stop

    monkeypatch.setattr("synthwatch.commands.schedule.Scheduler", scheduler)
    with pytest.raises(Stop):
        main(["schedule", "--sources", str(home / "sources.toml")])

    (kwargs,) = made
    assert kwargs["run_job"].allow_loopback is allowed
    assert kwargs["run_job"].sources == (home / "sources.toml",)


def test_crawl_names_the_file_and_line_of_a_broken_source_file(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = invented_source_toml(seeds='"https://shop.example/"')  # seeds must be a list
    path = home / "broken.toml"
    path.write_text(broken)
    fake = FakeCrawl()
    monkeypatch.setattr("synthwatch.progress.run_crawl", fake)

    assert main(["crawl", "shop", "--sources", str(path)]) == 2

    line = 1 + next(n for n, text in enumerate(broken.splitlines()) if text.startswith("seeds"))
    error = one_line_error(capsys)
    assert f"{path}:{line}" in error and "'seeds'" in error
    assert fake.calls == [], "no child process is started for a broken file"


def test_crawl_of_a_source_no_file_defines_is_a_one_line_error(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "sources.toml").write_text(invented_source_toml())
    fake = FakeCrawl()
    monkeypatch.setattr("synthwatch.progress.run_crawl", fake)

    assert main(["crawl", "other", "--sources", str(home / "sources.toml")]) == 2

    error = one_line_error(capsys)
    assert "no source 'other'" in error and "they define shop" in error
    assert fake.calls == []


def test_evidence_verify_of_an_unknown_run_is_a_one_line_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evidence", "verify", "--run", "999"]) == 2

    assert "there is no crawl run 999" in one_line_error(capsys)
