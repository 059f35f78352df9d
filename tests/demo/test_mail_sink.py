"""The demo's mail sink: a real SMTP server on 127.0.0.1 that keeps each message in a file."""

from __future__ import annotations

import smtplib
from email import message_from_bytes
from pathlib import Path

import pytest

from demo.mail_sink import MailSink

pytest.importorskip("aiosmtpd")


def test_each_message_is_kept_with_its_envelope(tmp_path: Path) -> None:
    with MailSink(tmp_path / "mail") as sink:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            client.sendmail(
                "digest@synthwatch.example",
                ["ana@team.example", "lou@team.example"],
                b"Subject: W48\r\nMessage-ID: <m1@synthwatch.example>\r\n\r\nbody\r\n",
            )
            client.sendmail(
                "digest@synthwatch.example", ["lee@team.example"], b"Subject: 2\r\n\r\nx\r\n"
            )
        files = sink.messages()

    assert [file.name for file in files] == ["0001.eml", "0002.eml"]
    first = message_from_bytes(files[0].read_bytes())
    assert first["Return-Path"] == "<digest@synthwatch.example>"
    assert first.get_all("X-Sink-Rcpt-To") == ["ana@team.example", "lou@team.example"]
    assert first["Message-ID"] == "<m1@synthwatch.example>"
    assert first.get_payload().strip() == "body"


def test_the_sink_listens_on_loopback_only(tmp_path: Path) -> None:
    with MailSink(tmp_path / "mail") as sink:
        assert sink._controller.hostname == "127.0.0.1"
        assert sink.port > 0


def test_the_port_of_a_stopped_sink_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = MailSink(tmp_path).port
