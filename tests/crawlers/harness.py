"""Helpers of the crawler tests: a scripted HTTP server on 127.0.0.1 and a crawl harness."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crawlers.runner import CrawlOutcome, run_crawl
from crawlers.sources import SourceConfig, load_sources, scope_fingerprint
from storage import repository as repo
from storage.db import transaction
from storage.models import Source

REPO = Path(__file__).resolve().parents[2]
FAKE_ANALYSER = "tests.crawlers.fakes.KeywordAnalyser"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]


class MockServer:
    """A scripted HTTP server on 127.0.0.1 that answers from `routes` and logs every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.hits.append(Hit("GET", self.path, dict(self.headers.items())))
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                route = route or Route(404, b"<html><body>not found</body></html>")
                if route.delay:
                    time.sleep(route.delay)
                self.send_response(route.status)
                headers = {"Content-Type": "text/html; charset=utf-8", **route.headers}
                for name, value in headers.items():
                    self.send_header(name, value.replace("{base}", server.base_url))
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, path: str, body: str | bytes = b"", status: int = 200, **kwargs: Any) -> None:
        data = body.replace("{base}", self.base_url).encode() if isinstance(body, str) else body
        self.routes[path] = Route(status, data, **kwargs)

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


def source_toml(
    source_id: str,
    base: str,
    *,
    seeds: str = '["{base}/"]',
    sitemaps: str = "[]",
    listing_links: str = '["a.listing"]',
    index_links: str = '["nav a"]',
    pagination: str = '["a[rel=next]"]',
    pattern: str = "^/item/",
    fields: str = "",
) -> str:
    """Return one `[[source]]` block on a local server."""
    text = f"""
[[source]]
id = "{source_id}"
name = "Test source {source_id}"
seeds = {seeds}
allowed_domains = ["127.0.0.1"]
sitemaps = {sitemaps}
schedule = "interval:1d"
legal_note = "A local test server."
[source.discovery]
index_links = {index_links}
listing_links = {listing_links}
pagination = {pagination}
listing_url_pattern = "{pattern}"
"""
    if fields:
        text += f"[source.fields]\n{fields}\n"
    return text.replace("{base}", base)


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
            repo.upsert_source(
                session,
                source_id=source.id,
                name=source.name,
                config=source.to_config(),
                scope_fingerprint="older-scope" if state == "rescoped" else fingerprint,
                now=self.now,
            )
            if state == "unapproved":
                return
            legal = repo.get_user(session, "lee") or repo.create_user(
                session, username="lee", password_hash="x", role="legal", now=self.now
            )
            repo.approve_source(
                session, source_id=source.id, approver=legal, legal_basis="test", now=self.now
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
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        settings = {"SYNTHWATCH_ANALYSER": FAKE_ANALYSER, **kw.pop("settings", {})}
        return run_crawl(
            source_id,
            sources=[sources],
            env=env,
            timeout=timeout,
            allow_loopback=kw.pop("allow_loopback", True),
            settings=settings,
            **kw,
        )
