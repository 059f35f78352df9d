"""A mail sink on 127.0.0.1: a real SMTP server (aiosmtpd) that keeps every message in a file.

The demo hands its weekly digest to this sink instead of a mail server, so the outbox records a
real SMTP exchange and the messages can be opened: ``FOLDER/0001.eml``, ``0002.eml``, … as
received, after a ``Return-Path`` and one ``X-Sink-Rcpt-To`` header per envelope recipient.
aiosmtpd is a development dependency (``pip install -e '.[dev]'``, as ``make demo`` does).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
# A port found free can be taken before the server binds it; that many tries are plenty.
BIND_ATTEMPTS = 5


class MailSinkUnavailable(RuntimeError):
    """aiosmtpd is not installed, or the sink could not bind a port on 127.0.0.1."""


class _Keep:
    """aiosmtpd handler: accept every message and write it to the next numbered file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = f"Return-Path: <{envelope.mail_from}>\r\n" + "".join(
            f"X-Sink-Rcpt-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos
        )
        data = head.encode("ascii", "replace") + bytes(envelope.original_content)
        with self.lock:
            number = 1 + len(list(self.folder.glob("*.eml")))
            path = self.folder / f"{number:04d}.eml"
            partial = path.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(path)
        return "250 2.0.0 Message accepted for delivery (kept in the demo mail sink)"


class MailSink:
    """Serve SMTP on 127.0.0.1 in a thread; write each accepted message to ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._controller: Any = None

    @property
    def port(self) -> int:
        """Return the port the running sink listens on."""
        if self._controller is None:
            raise RuntimeError("the mail sink is not running; call start() first")
        return int(self._controller.port)

    def messages(self) -> list[Path]:
        """Return the files of the messages received, oldest first."""
        return sorted(self.folder.glob("*.eml"))

    def start(self) -> None:
        """Bind a free port on 127.0.0.1 and serve; raise MailSinkUnavailable if it can't."""
        try:
            from aiosmtpd.controller import Controller
        except ImportError as error:
            raise MailSinkUnavailable(
                "aiosmtpd is not installed (pip install -e '.[dev]')"
            ) from error
        self.folder.mkdir(parents=True, exist_ok=True)
        handler = _Keep(self.folder)
        last: OSError | None = None
        for _attempt in range(BIND_ATTEMPTS):
            controller = Controller(handler, hostname=HOST, port=_free_port())
            try:
                controller.start()
            except OSError as error:
                last = error
                continue
            self._controller = controller
            return
        raise MailSinkUnavailable(f"no free port for the mail sink on {HOST}: {last}")

    def stop(self) -> None:
        """Stop serving."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
