"""Serve the review app on the loopback interface."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from waitress.server import create_server

from review.app import create_app
from review.settings import ReviewSettings
from synthwatch.store import Store

HOST = "127.0.0.1"
THREADS = 8


@dataclass(frozen=True, slots=True)
class ReviewServer:
    """The review app bound to a port on 127.0.0.1, not serving until ``run``."""

    server: Any  # waitress' server: it listens from creation on and queues connections
    settings: ReviewSettings

    @property
    def port(self) -> int:
        """Return the port it listens on (another one when the requested one was taken)."""
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        """Return the app's address."""
        return f"http://{HOST}:{self.port}/"

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C ends it quietly)."""
        self.server.run()

    def close(self) -> None:
        """Release the port without serving."""
        self.server.close()


def loopback_socket(port: int, *, any_port_if_taken: bool = False) -> socket.socket:
    """Bind a TCP socket to 127.0.0.1:``port`` (not listening yet).

    With ``any_port_if_taken`` a port that can't be bound (taken, or privileged) is replaced by
    a free one; otherwise the OSError is the caller's to report.
    """
    for candidate in (port, 0) if any_port_if_taken else (port,):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # As waitress does for its own sockets: a port left in TIME_WAIT by a stopped run binds.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError:
            sock.close()
            if candidate == 0 or not any_port_if_taken:
                raise
            continue
        return sock
    raise AssertionError("port 0 always binds or raises")  # pragma: no cover


def bind_review_app(
    store: Store, sock: socket.socket, *, settings: ReviewSettings | None = None
) -> ReviewServer:
    """Serve the review app with waitress (a production WSGI server) on a bound socket."""
    settings = settings or ReviewSettings.from_env()
    app = create_app(store.session_factory, settings)
    server = create_server(app, sockets=[sock], threads=THREADS, ident="SynthWatch")
    return ReviewServer(server, settings)


def serve_review_app(store: Store, *, port: int) -> None:
    """Serve the review app on 127.0.0.1:``port`` until interrupted."""
    bind_review_app(store, loopback_socket(port)).run()
