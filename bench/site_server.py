"""Serve a generated bench site on 127.0.0.1, with validators, as the demo server does.

Every page has a strong ETag (of its bytes) and a Last-Modified (when the server started), and a
conditional GET of an unchanged page gets 304 (`demo.responses.not_modified`, RFC 9110), so a
recrawl of the site measures the incremental path. The server counts the answers it gave.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from bench.site import GeneratedSite
from demo.responses import etag_for, not_modified

SHUTDOWN_POLL_SECONDS = 0.05


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Scrapy opens a new connection for nearly every request here; with the library's listen
    # backlog of 5 some are refused and retried a second later (measured: bare Scrapy at
    # 14 pages/s, one 1 s stall every ~12 requests; 176 pages/s with this backlog).
    request_queue_size = 128
    site_server: SiteServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler hanging up mid-response is routine; anything else is worth a trace.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SynthWatchBench/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: a benchmark's server has no log."""

    def do_GET(self) -> None:
        owner = cast(_Server, self.server).site_server
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        body = owner.site.page(path)
        if body is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", {})
            owner.count(404)
            return
        kind = "text/plain" if path.endswith(".txt") else "text/html"
        etag = etag_for(body)
        validators = {
            "ETag": etag,
            "Last-Modified": format_datetime(owner.last_modified, usegmt=True),
        }
        if not_modified(self.headers, etag, owner.last_modified):
            self._send(HTTPStatus.NOT_MODIFIED, b"", f"{kind}; charset=utf-8", validators)
            owner.count(304)
            return
        self._send(HTTPStatus.OK, body, f"{kind}; charset=utf-8", validators)
        owner.count(200)

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, extra: dict[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(body)


class SiteServer:
    """Serve one `GeneratedSite` on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, site: GeneratedSite) -> None:
        self.site = site
        self.last_modified = datetime.now(UTC).replace(microsecond=0)
        self.answers: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Return `http://127.0.0.1:PORT` of the running server."""
        if self._httpd is None:
            raise RuntimeError("bench site server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def count(self, status: int) -> None:
        """Count one answer by its status."""
        with self._lock:
            self.answers[status] += 1

    def served(self) -> int:
        """Return how many requests were answered so far."""
        with self._lock:
            return sum(self.answers.values())

    def __enter__(self) -> SiteServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.site_server = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="bench-site",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
