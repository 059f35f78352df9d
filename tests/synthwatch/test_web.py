"""The review app's port: `serve` reports a taken one; the demo moves to a free one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthwatch.cli import main
from synthwatch.web import loopback_socket
from tests.conftest import migrated_copy


@pytest.fixture
def taken_port() -> Iterator[int]:
    """Listen on a free port of 127.0.0.1, as another program on port 8000 would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_a_taken_port_is_replaced_by_a_free_one_when_allowed(taken_port: int) -> None:
    with loopback_socket(taken_port, any_port_if_taken=True) as sock:
        host, port = sock.getsockname()
    assert host == "127.0.0.1"
    assert port not in (taken_port, 0)


def test_a_taken_port_is_an_error_unless_allowed(taken_port: int) -> None:
    with pytest.raises(OSError):
        loopback_socket(taken_port)


def test_a_free_port_is_kept(taken_port: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    with loopback_socket(free, any_port_if_taken=True) as sock:
        assert sock.getsockname()[1] == free


def test_serve_on_a_taken_port_is_a_one_line_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    migrated_template: Path,
    capsys: pytest.CaptureFixture[str],
    taken_port: int,
) -> None:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")

    assert main(["serve", "--port", str(taken_port)]) == 2

    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{taken_port}" in err and "Traceback" not in err
