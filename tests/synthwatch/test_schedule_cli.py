"""`synthwatch schedule`: its job list, and a clean stop on SIGTERM."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthwatch.cli import main
from tests.conftest import migrated_copy
from tests.factories import invented_source_toml

SOURCE = invented_source_toml(name="Invented shop", schedule="cron:0 6 * * 1")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    (tmp_path / "sources.toml").write_text(SOURCE)
    return tmp_path


def jobs(capsys: pytest.CaptureFixture[str], home: Path) -> str:
    capsys.readouterr()
    assert main(["schedule", "--sources", str(home / "sources.toml"), "--list"]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if "shop" in line]
    return row


def test_only_an_approved_source_gets_a_next_run(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    assert "unapproved" in jobs(capsys, home)
    monkeypatch.setattr("sys.stdin", io.StringIO("lena-password-1\n"))
    main(["users", "add", "lena", "--role", "legal"])
    monkeypatch.setattr("sys.stdin", io.StringIO("lena-password-1\n"))
    main(["sources", "approve", "shop", "--as", "lena", "--basis", "Public pages"])
    row = jobs(capsys, home)
    assert "approved" in row and "now (catch-up)" in row and "never" in row


@pytest.mark.slow
def test_the_scheduler_stops_cleanly_on_sigterm(home: Path) -> None:
    env = {**os.environ, "SYNTHWATCH_CONTACT_URL": "http://127.0.0.1/contact"}
    process = subprocess.Popen(
        [sys.executable, "-m", "synthwatch", "schedule", "--sources", str(home / "sources.toml")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    assert process.stderr is not None
    seen = ""
    while "holds the scheduler lease" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert "holds the scheduler lease" in seen
