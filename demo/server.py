"""Serve the invented demo marketplace on a loopback address.

`python -m demo.server [--port N] [--access-log FILE] [--day 2]` prints the base URL and serves
until Ctrl-C; `--day 2` serves the pages as they are on the second day (demo/second_day.py).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
import socketserver
import sys
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

from demo.access_log import AccessLogEntry, read_access_log
from demo.responses import (
    CONTENT_TYPES,
    LOGIN_FORM,
    LOGIN_PATH,
    MEMBERS_PREFIXES,
    PLACEHOLDER,
    TEMPLATED_SUFFIXES,
    default_site_dir,
    etag_for,
    is_directory,
    not_modified,
    render_page,
    site_file,
)
from demo.second_day import changed_paths, second_day_body

__all__ = ["AccessLogEntry", "DemoServer", "main", "read_access_log"]

logger = logging.getLogger(__name__)

# serve_forever notices stop() only between polls; the library default (0.5 s) slows every test.
SHUTDOWN_POLL_SECONDS = 0.05
# A POST body is drained before answering 403 so the client reads the answer, not a reset.
MAX_DRAINED_BODY = 1 << 20


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Scrapy opens a new connection for nearly every request; with the library's listen backlog
    # of 5 some are refused and retried a second later (one 1 s stall every ~12 requests).
    request_queue_size = 128

    def __init__(self, demo: DemoServer, address: tuple[str, int], family: socket.AddressFamily):
        self.address_family = family
        self.demo = demo
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's FQDN; a loopback literal needs no lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler hanging up mid-response is routine; anything else is a bug worth a trace.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return
        logger.exception("demo server: error answering %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SynthWatchDemo/1.0"

    @property
    def demo(self) -> DemoServer:
        return cast(_Server, self.server).demo

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: the access log is the record."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Every response, including the library's own error replies, passes through here.
        headers = getattr(self, "headers", None)
        self.demo.record(
            AccessLogEntry(
                time=datetime.now(UTC),
                method=str(getattr(self, "command", None) or "-"),
                path=str(getattr(self, "path", "") or ""),
                status=int(code) if isinstance(code, int) or code.isdigit() else 0,
                user_agent=(headers.get("User-Agent", "") if headers is not None else "") or "",
            )
        )

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        self._refuse_write()

    def do_PUT(self) -> None:
        self._refuse_write()

    def do_PATCH(self) -> None:
        self._refuse_write()

    def do_DELETE(self) -> None:
        self._refuse_write()

    def _refuse_write(self) -> None:
        length = self.headers.get("Content-Length", "0")
        if length.isdigit():
            self.rfile.read(min(int(length), MAX_DRAINED_BODY))
        body = render_page(
            "Forbidden", "<p>This demo site accepts no submissions and no sign-ins.</p>"
        )
        self._send(HTTPStatus.FORBIDDEN, body, "text/html; charset=utf-8", head=False)

    def _answer(self, *, head: bool) -> None:
        # Not urlsplit: it would read "//host/x" as a network location rather than a bad path.
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        site_dir = self.demo.site_dir
        if path == LOGIN_PATH:
            page = render_page(
                "Members' area — sign in",
                "<p>Sign in to read members-only threads.</p>\n" + LOGIN_FORM,
            )
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", head=head)
            return
        if path.startswith(MEMBERS_PREFIXES):
            page = render_page(
                "Sign in required", "<p>You must sign in to see this page.</p>\n" + LOGIN_FORM
            )
            self._send(
                HTTPStatus.UNAUTHORIZED,
                page,
                "text/html; charset=utf-8",
                head=head,
                extra={"WWW-Authenticate": 'Form realm="members"'},
            )
            return
        found = site_file(site_dir, path)
        if found is None:
            if is_directory(site_dir, path):
                self._send(
                    HTTPStatus.MOVED_PERMANENTLY,
                    b"",
                    "text/plain; charset=utf-8",
                    head=head,
                    extra={"Location": self.demo.base_url + path + "/"},
                )
                return
            page = render_page("Page not found", "<p>There is no page at this address.</p>")
            self._send(HTTPStatus.NOT_FOUND, page, "text/html; charset=utf-8", head=head)
            return
        body = found.read_bytes()
        if found.suffix in TEMPLATED_SUFFIXES:
            body = body.replace(PLACEHOLDER.encode(), self.demo.base_url.encode())
        last_modified = datetime.fromtimestamp(int(found.stat().st_mtime), tz=UTC)
        if self.demo.day >= 2 and path in changed_paths():
            body = second_day_body(path, body)
            # Changed when the day began: If-Modified-Since from the first day gets the new page.
            last_modified = max(last_modified, self.demo.day_began)
        etag = etag_for(body)
        validators = {"ETag": etag, "Last-Modified": format_datetime(last_modified, usegmt=True)}
        content_type = CONTENT_TYPES.get(found.suffix, "application/octet-stream")
        if not_modified(self.headers, etag, last_modified):
            self._send(HTTPStatus.NOT_MODIFIED, b"", content_type, head=True, extra=validators)
            return
        self._send(HTTPStatus.OK, body, content_type, head=head, extra=validators)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        *,
        head: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


def loopback_family(host: str) -> socket.AddressFamily:
    """Return the address family for a loopback host; raise ValueError for any other host."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"demo server binds loopback IP addresses only, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"demo server binds loopback addresses only, not {host!r}")
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


class DemoServer:
    """Serve the demo site on loopback in a daemon thread and record every request."""

    def __init__(
        self,
        site_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: Path | None = None,
    ) -> None:
        self._family = loopback_family(host)
        self.site_dir = site_dir if site_dir is not None else default_site_dir()
        if not self.site_dir.is_dir():
            raise ValueError(f"demo site folder not found: {self.site_dir}")
        self.host = host
        self.port = port
        self.access_log = access_log
        # Which day of the marketplace is served: 1, or 2 with the pages of demo/second_day.py.
        self.day = 1
        self.day_began = datetime.now(UTC).replace(microsecond=0)
        self._entries: list[AccessLogEntry] = []
        self._lock = threading.Lock()
        self._log_file: IO[str] | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Return `http://HOST:PORT` of the running server."""
        if self._httpd is None:
            raise RuntimeError("demo server is not running; call start() first")
        host = f"[{self.host}]" if self._family == socket.AF_INET6 else self.host
        return f"http://{host}:{self._httpd.server_address[1]}"

    def start(self) -> None:
        """Bind the socket and serve in a daemon thread; port 0 picks a free port."""
        if self._httpd is not None:
            raise RuntimeError("demo server is already running")
        if self.access_log is not None:
            self.access_log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.access_log.open("a", encoding="utf-8")
        try:
            self._httpd = _Server(self, (self.host, self.port), self._family)
        except OSError:
            self._close_log()
            raise
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="demo-server",
            daemon=True,
        )
        self._thread.start()

    def set_day(self, day: int) -> None:
        """Serve the marketplace as it is on ``day`` (1 or 2) from now on."""
        if day not in (1, 2):
            raise ValueError(f"the demo marketplace has days 1 and 2, not {day}")
        self.day = day
        self.day_began = datetime.now(UTC).replace(microsecond=0)

    def stop(self) -> None:
        """Stop serving and release the socket and the log file."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close_log()

    def requests(self) -> list[AccessLogEntry]:
        """Return every request answered so far, in order."""
        with self._lock:
            return list(self._entries)

    def record(self, entry: AccessLogEntry) -> None:
        """Append one answered request to the in-memory log and the access log file."""
        with self._lock:
            self._entries.append(entry)
            if self._log_file is not None:
                self._log_file.write(entry.to_json() + "\n")
                self._log_file.flush()

    def _close_log(self) -> None:
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve the demo marketplace until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.server", description="Serve the invented SynthWatch demo marketplace."
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--access-log", type=Path, help="append one JSON line per request here")
    parser.add_argument(
        "--day", type=int, choices=(1, 2), default=1, help="serve the second day's pages with 2"
    )
    args = parser.parse_args(argv)
    server = DemoServer(port=args.port, access_log=args.access_log)
    server.set_day(args.day)
    try:
        server.start()
    except OSError as exc:
        print(f"demo server: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(server.base_url, flush=True)
    print("Serving the demo marketplace; Ctrl-C to stop.", file=sys.stderr, flush=True)
    stopping = threading.Event()
    # The demo runner ends its child with SIGTERM: stop as cleanly as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
