"""``synthwatch demo``: every stage, end to end, against the invented marketplace on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from rich.console import Console
from sqlalchemy.orm import Session

from crawlers.registry import register_source
from crawlers.runner import run_crawl
from crawlers.sources import SourceConfig, load_sources
from demo.server import DemoServer
from review.auth import set_password
from review.digest.render import write_preview
from review.digest.settings import DigestSettings
from review.sources import approve_source
from review.users import create_user
from storage.clock import utcnow
from storage.config import StorageSettings
from storage.crawls import CrawlSummary, crawl_summary
from storage.sources import approval_state
from storage.users import get_user
from synthwatch.errors import UsageError
from synthwatch.store import Store
from synthwatch.summary import summary_table

DEMO_USERS = {"demo-analyst": "analyst", "demo-legal": "legal"}
LEGAL_BASIS = "Invented demo marketplace served on 127.0.0.1 by `synthwatch demo`; no real vendor."
CRAWL_TIMEOUT_S = 300.0
DEMO_CONTACT_URL = "http://127.0.0.1/contact"


@dataclass(frozen=True, slots=True)
class DemoResult:
    summary: CrawlSummary
    site_url: str
    access_log: Path
    digest_preview: Path
    passwords: dict[str, str]


def run_demo(*, serve: bool, as_json: bool, app_port: int, site_port: int) -> int:
    """Run the demo; serve the review app afterwards unless told not to."""
    console = Console(stderr=True)
    settings = StorageSettings.from_env()
    store = Store.open(settings, migrate=True)
    console.print(f"state folder: {settings.home}", highlight=False)
    result = crawl_demo_site(store, console, site_port=site_port)
    if as_json:
        print(json.dumps(_json_result(result), sort_keys=True))
    else:
        Console().print(summary_table(result.summary))
        console.print(f"digest preview: {result.digest_preview}", highlight=False)
    if not serve:
        return 0 if _crawls_succeeded(result.summary) else 1

    from synthwatch.web import serve_review_app

    console.print(f"review app: http://127.0.0.1:{app_port}/  (Ctrl-C to stop)")
    for username, password in result.passwords.items():
        console.print(f"  user {username} ({DEMO_USERS[username]}), password {password}")
    serve_review_app(store, port=app_port)
    return 0


def crawl_demo_site(store: Store, console: Console, *, site_port: int) -> DemoResult:
    """Serve the marketplace, approve its sources, crawl each in a child process, summarise."""
    home = store.settings.home
    # Read before crawling: a wrong setting stops the demo now, not after minutes of crawls.
    digest_settings = DigestSettings.from_env()
    access_log = home / "demo-access.log"
    access_log.unlink(missing_ok=True)
    site = _start_site(site_port, access_log)
    site_url = site.base_url
    try:
        sources_file = render_sources(site_url, home / "demo-sources.toml")
        sources = load_sources(sources_file)
        now = utcnow()
        # Every crawl names its operator; the demo's is this machine, unless one is configured.
        contact = os.environ.get("SYNTHWATCH_CONTACT_URL") or DEMO_CONTACT_URL
        with store.sessions() as session:
            passwords = ensure_demo_users(session, now)
            approve_demo_sources(session, sources, now)
        run_ids: list[int] = []
        for source in sources:
            with console.status(f"crawling {source.id} ({source.name})"):
                outcome = run_crawl(
                    source.id,
                    sources=[sources_file],
                    env={"SYNTHWATCH_HOME": str(home), "SYNTHWATCH_CONTACT_URL": contact},
                    timeout=CRAWL_TIMEOUT_S,
                    allow_loopback=True,
                )
            console.print(
                f"crawled {source.id}: exit code {outcome.exit_code}, {outcome.duration:.1f} s, "
                f"log {outcome.log_path}",
                highlight=False,
            )
            if outcome.run_id is None:
                raise UsageError(f"crawl of {source.id} left no crawl run; see {outcome.log_path}")
            run_ids.append(outcome.run_id)
    finally:
        site.stop()
    preview = home / "digest-preview.html"
    with store.sessions() as session:
        finished = utcnow()
        summary = crawl_summary(session, run_ids, now=finished)
        write_preview(session, preview, now=finished, base_url=digest_settings.base_url)
    return DemoResult(summary, site_url, access_log, preview, passwords)


def render_sources(base_url: str, out: Path) -> Path:
    """Write the demo's source file with the marketplace's real address filled in."""
    template = resources.files("demo").joinpath("sources.toml").read_text(encoding="utf-8")
    out.write_text(template.replace("{base_url}", base_url), encoding="utf-8")
    return out


def ensure_demo_users(session: Session, now: datetime) -> dict[str, str]:
    """Create the demo users, or give them new passwords; return the passwords."""
    passwords = {}
    for username, role in DEMO_USERS.items():
        password = secrets.token_urlsafe(12)
        user = get_user(session, username)
        if user is None:
            create_user(session, username=username, password=password, role=role, now=now)
        else:
            set_password(user, password)
            user.active = True
        passwords[username] = password
    session.flush()
    return passwords


def approve_demo_sources(session: Session, sources: list[SourceConfig], now: datetime) -> None:
    """Register the demo sources and have the demo legal user approve their current scope."""
    legal = get_user(session, "demo-legal")
    assert legal is not None, "ensure_demo_users runs first"
    for source in sources:
        fingerprint = register_source(session, source, now=now)
        if approval_state(session, source.id, fingerprint) != "approved":
            approve_source(
                session,
                source_id=source.id,
                approver=legal,
                legal_basis=LEGAL_BASIS,
                fingerprint=fingerprint,
                now=now,
            )


def _start_site(port: int, access_log: Path) -> DemoServer:
    server = DemoServer(port=port, access_log=access_log)
    try:
        server.start()
    except OSError:
        # The preferred port keeps listing URLs stable across demo runs; any free one will do.
        server = DemoServer(port=0, access_log=access_log)
        server.start()
    return server


def _crawls_succeeded(summary: CrawlSummary) -> bool:
    return all(run["status"] == "finished" for run in summary.runs)


def _json_result(result: DemoResult) -> dict[str, object]:
    return {
        **result.summary.to_dict(),
        "site_url": result.site_url,
        "access_log": str(result.access_log),
        "digest_preview": str(result.digest_preview),
    }
