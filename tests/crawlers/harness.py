"""Helpers of the crawler tests: a scripted HTTP server on 127.0.0.1 and a crawl harness."""

from __future__ import annotations

import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from crawlers.pipelines import StorePipeline
from crawlers.runner import CrawlOutcome, run_crawl
from crawlers.sources import SourceConfig, load_sources, scope_fingerprint
from crawlers.store_batch import BatchWriter, Outcome, StoreItem
from review.sources import approve_source
from storage.db import transaction
from storage.models import Source
from storage.sources import upsert_source
from storage.users import create_user, get_user

REPO = Path(__file__).resolve().parents[2]
FAKE_ANALYSER = "tests.crawlers.fakes.KeywordAnalyser"
# Loopback, like every other address a test crawl talks to.
CONTACT_URL = "http://127.0.0.1/contact"


@dataclass
class Route:
    """A scripted answer. `hang` and `announce` wait (at most that many seconds, or until the
    client closes) instead of answering; `announce` first sends headers announcing that many
    bytes; `chunked` streams that many bytes with no Content-Length; `reset` aborts the
    connection with a TCP RST."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: float = 0.0
    announce: int = 0
    reset: bool = False
    chunked: int = 0  # send this many bytes of body with Transfer-Encoding: chunked


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it; `start` and `end` are `time.monotonic()` values.

    `end` is taken just before the response's first byte is written: a client that waits for
    responses cannot send its next request before it. A request the server left hanging ends
    when the server sees the client close it (`abandoned`), a moment after the client gave up.
    """

    method: str
    path: str
    headers: dict[str, str]
    port: int = 0
    start: float = 0.0
    end: float = 0.0
    status: int = 0
    abandoned: bool = False


class MockServer:
    """A scripted HTTP server on 127.0.0.1 that answers from `routes` and logs every request.

    A route may be a list of answers given in turn, the last one repeating.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.routes: dict[str, Route | list[Route]] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                start = time.monotonic()
                route = server.next_route(self.path)
                if route.delay:
                    time.sleep(route.delay)
                if route.reset:
                    server.log(self, start, 0)
                    self.close_connection = True
                    self.rfile.close()
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.connection.close()
                    return
                if route.hang:
                    self.close_connection = True
                    server.wait_for_close(self.connection, route.hang)
                    server.log(self, start, 0, abandoned=True)
                    return
                headers = {"Content-Type": "text/html; charset=utf-8", **route.headers}
                etag = route.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:
                    route = Route(304, b"", {"ETag": etag})
                    headers = route.headers
                if route.chunked:
                    server.log(self, start, route.status)
                    server.send_chunked(self, route, headers)
                    return
                length = route.announce or len(route.body)
                if not route.announce:
                    server.log(self, start, route.status)
                self.send_response(route.status)
                for name, value in headers.items():
                    self.send_header(name, value.replace("{base}", server.base_url))
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if route.announce:
                    self.close_connection = True
                    server.wait_for_close(self.connection, 10.0)
                    server.log(self, start, route.status, abandoned=True)
                    return
                try:
                    self.wfile.write(route.body)
                except OSError:
                    self.close_connection = True

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def send_chunked(
        self, handler: BaseHTTPRequestHandler, route: Route, headers: dict[str, str]
    ) -> None:
        handler.close_connection = True
        handler.send_response(route.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk, sent = b"<p>" + b"x" * (64 * 1024) + b"</p>", 0
        try:
            while sent < route.chunked:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client gave up, as it should past its limit

    def add(self, path: str, body: str | bytes = b"", status: int = 200, **kwargs: Any) -> None:
        self.routes[path] = Route(status, self.data(body), **kwargs)

    def add_sequence(self, path: str, *routes: Route) -> None:
        self.routes[path] = list(routes)

    def data(self, body: str | bytes) -> bytes:
        return body.replace("{base}", self.base_url).encode() if isinstance(body, str) else body

    def next_route(self, path: str) -> Route:
        with self._lock:
            route = self.routes.get(path) or self.routes.get(path.split("?")[0])
            if isinstance(route, list):
                return route.pop(0) if len(route) > 1 else route[0]
        return route or Route(404, b"<html><body>not found</body></html>")

    def log(
        self, handler: BaseHTTPRequestHandler, start: float, status: int, abandoned: bool = False
    ) -> None:
        hit = Hit(
            "GET", handler.path, dict(handler.headers.items()), self.port, start,
            time.monotonic(), status, abandoned,
        )  # fmt: skip
        with self._lock:
            self.hits.append(hit)

    @staticmethod
    def wait_for_close(connection: socket.socket, most: float) -> None:
        """Wait until the client closes the connection, at most `most` seconds."""
        end = time.monotonic() + most
        while (left := end - time.monotonic()) > 0:
            readable, _, _ = select.select([connection], [], [], left)
            if not readable:
                continue
            try:
                if not connection.recv(1, socket.MSG_PEEK):
                    return
            except OSError:
                return
            time.sleep(0.01)

    def paths(self) -> list[str]:
        with self._lock:
            return [hit.path for hit in self.hits]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()


@dataclass
class Harness:
    """A crawl's state folder, database and sources; crawls run as child processes."""

    tmp_path: Path
    database_url: str
    session_factory: sessionmaker[Session]
    now: datetime

    @property
    def home(self) -> Path:
        return self.tmp_path / "home"

    def write_sources(self, text: str, name: str = "sources.toml") -> Path:
        path = self.tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    def register(self, source: SourceConfig, *, state: str = "approved") -> None:
        """Put a source in the database in an approval state of its current scope."""
        fingerprint = scope_fingerprint(source)
        with transaction(self.session_factory) as session:
            upsert_source(
                session,
                source_id=source.id,
                name=source.name,
                config=source.to_config(),
                scope_fingerprint="older-scope" if state == "rescoped" else fingerprint,
                now=self.now,
            )
            if state == "unapproved":
                return
            legal = get_user(session, "lee") or create_user(
                session, username="lee", password_hash="x", role="legal", now=self.now
            )
            approve_source(
                session,
                source_id=source.id,
                approver=legal,
                legal_basis="test",
                fingerprint="older-scope" if state == "rescoped" else fingerprint,
                now=self.now,
            )
            row = session.get(Source, source.id)
            assert row is not None
            if state == "suspended":
                row.suspended_at = self.now
            if state == "rescoped":
                row.scope_fingerprint = fingerprint

    def register_file(self, path: Path, *, state: str = "approved") -> list[SourceConfig]:
        sources = load_sources(path)
        for source in sources:
            self.register(source, state=state)
        return sources

    def crawl(self, source_id: str, sources: Path, timeout: float = 60, **kw: Any) -> CrawlOutcome:
        # No proxy (empty values switch one off): every request goes straight to 127.0.0.1.
        env = {name: "" for name in os.environ if name.lower().endswith("_proxy")}
        env |= {
            "SYNTHWATCH_HOME": str(self.home),
            "SYNTHWATCH_DATABASE_URL": self.database_url,
            "SYNTHWATCH_CONTACT_URL": CONTACT_URL,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        settings = {
            "SYNTHWATCH_ANALYSER": FAKE_ANALYSER,
            # Seconds, not the minutes a real host gets, before robots.txt is asked again.
            "SYNTHWATCH_ROBOTS_RETRY_DELAYS": "0.2,0.4",
            **kw.pop("settings", {}),
        }
        return run_crawl(
            source_id,
            sources=[sources],
            env=env,
            timeout=timeout,
            allow_loopback=kw.pop("allow_loopback", True),
            settings=settings,
            **kw,
        )


def at_once(write: Callable[[list[Any]], list[Any]], items: list[Any]) -> Deferred[list[Any]]:
    """Run a batch writer's batch on this thread, now (tests have no reactor running)."""
    return succeed(write(items))


def synchronous(store: StorePipeline, size: int = 1) -> StorePipeline:
    """Make a store pipeline write each batch of ``size`` at once, on this thread."""
    writer: BatchWriter[StoreItem, Outcome] = BatchWriter(
        store.write_batch, size=size, seconds=60, clock=Clock(), run=at_once
    )
    store.writer = writer
    return store


def resolved(awaitable: Coroutine[Any, Any, Any]) -> Any:
    """Return what a coroutine that completes at once returns, or raise what it raises."""
    results: list[Any] = []
    ensureDeferred(awaitable).addBoth(results.append)
    assert results, "the coroutine is still waiting"
    (result,) = results
    if isinstance(result, Failure):
        result.raiseException()
    return result
