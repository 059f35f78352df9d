"""``synthwatch demo``: every stage, end to end, against the invented marketplace on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from pathlib import Path

from rich.console import Console
from sqlalchemy.orm import Session

from crawlers.registry import register_source
from crawlers.runner import CrawlOutcome
from crawlers.sources import SourceConfig, load_sources
from demo.server import DemoServer
from review.auth import set_password
from review.digest.render import write_preview
from review.digest.settings import DigestSettings
from review.settings import ReviewSettings, signing_key_from_env
from review.signing import generate_key_text, load_signing_key
from review.sources import approve_source
from review.users import create_user
from storage.clock import utcnow
from storage.config import StorageSettings
from storage.crawls import CrawlSummary, crawl_summary
from storage.sources import approval_state
from storage.users import get_user
from synthwatch.demo_alerts import DemoAlerts, ensure_demo_rule, send_demo_alerts
from synthwatch.demo_mail import DigestDelivery, send_demo_digest, subscribe_demo_users
from synthwatch.errors import UsageError
from synthwatch.progress import crawl_with_progress
from synthwatch.store import Store
from synthwatch.summary import summary_table
from synthwatch.web import ReviewServer, bind_review_app, loopback_socket

DEMO_USERS = {"demo-analyst": "analyst", "demo-legal": "legal", "demo-admin": "admin"}
LEGAL_BASIS = "Invented demo marketplace served on 127.0.0.1 by `synthwatch demo`; no real vendor."
CRAWL_TIMEOUT_S = 300.0
DEMO_CONTACT_URL = "http://127.0.0.1/contact"
# Crawled again once the marketplace has switched to its second day (demo/second_day.py).
SECOND_DAY_SOURCE = "demo-forum"
# The demo's own referral signing key, used when SYNTHWATCH_SIGNING_KEY is not set.
SIGNING_KEY_FILE = "demo-signing-key"


@dataclass(frozen=True, slots=True)
class DemoResult:
    summary: CrawlSummary
    site_url: str
    access_log: Path
    digest_preview: Path
    passwords: dict[str, str]
    digest: DigestDelivery
    second_day_run: int
    alerts: DemoAlerts


def run_demo(*, serve: bool, as_json: bool, app_port: int, site_port: int) -> int:
    """Run the demo; serve the review app afterwards unless told not to."""
    console = Console(stderr=True)
    settings = StorageSettings.from_env()
    store = Store.open(settings, migrate=True)
    console.print(f"state folder: {settings.home}", highlight=False)
    signing_key, key_file = demo_signing_key(settings.home)
    server = _bind_app(store, console, app_port, signing_key) if serve else None
    try:
        base_url = server.settings.base_url if server is not None else None
        result = crawl_demo_site(store, console, site_port=site_port, base_url=base_url)
    except BaseException:
        if server is not None:
            server.close()
        raise
    if as_json:
        print(json.dumps(_json_result(result, key_file), sort_keys=True), flush=True)
    else:
        Console().print(summary_table(result.summary))
    _print_outcome(console, result, key_file)
    if server is None:
        return 0 if _crawls_succeeded(result.summary) else 1
    for username, password in result.passwords.items():
        console.print(f"  user {username} ({DEMO_USERS[username]}), password {password}")
    # Last: the line that says the app is ready (the end-to-end test waits for it).
    console.print(f"review app: {server.url}  (Ctrl-C to stop)", highlight=False)
    server.run()
    return 0


def _bind_app(store: Store, console: Console, port: int, signing_key: str) -> ReviewServer:
    """Bind the app before the crawls: a taken port is known at once, and the digest's links
    can name the port the app really has."""
    sock = loopback_socket(port, any_port_if_taken=True)
    bound = int(sock.getsockname()[1])
    if bound != port:
        console.print(
            f"port {port} is taken (or not allowed): the review app uses port {bound} instead",
            highlight=False,
        )
    settings = replace(ReviewSettings.from_env(), signing_key=signing_key)
    if not os.environ.get("SYNTHWATCH_BASE_URL"):
        settings = replace(settings, base_url=f"http://127.0.0.1:{bound}")
    return bind_review_app(store, sock, settings=settings)


def crawl_demo_site(
    store: Store, console: Console, *, site_port: int, base_url: str | None = None
) -> DemoResult:
    """Serve the marketplace, approve its sources, crawl each in a child process, summarise.

    Then crawl one source again on the marketplace's second day (a listing changes), write
    the digest preview and send the due digests to a mail sink on 127.0.0.1. The digest links
    to ``base_url`` (default: the configured one).
    """
    home = store.settings.home
    # Read before crawling: a wrong setting stops the demo now, not after minutes of crawls.
    digest_settings = DigestSettings.from_env()
    if base_url is not None:
        digest_settings = replace(digest_settings, base_url=base_url)
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
            subscribe_demo_users(session, DEMO_USERS, now)
            approve_demo_sources(session, sources, now)
            alerts = DemoAlerts(home / "demo-alerts", ensure_demo_rule(session, now))
        env = {"SYNTHWATCH_HOME": str(home), "SYNTHWATCH_CONTACT_URL": contact}
        run_ids: list[int] = []
        for source in sources:
            run_ids.append(_crawl(store, console, source, sources_file, env, label="crawling"))
        send_demo_alerts(store, alerts, base_url=digest_settings.base_url)
        site.set_day(2)
        again = next(source for source in sources if source.id == SECOND_DAY_SOURCE)
        second_day_run = _crawl(
            store, console, again, sources_file, env, label="second day: crawling again"
        )
        run_ids.append(second_day_run)
        send_demo_alerts(store, alerts, base_url=digest_settings.base_url)
    finally:
        site.stop()
    preview = home / "digest-preview.html"
    with store.sessions() as session:
        finished = utcnow()
        summary = crawl_summary(session, run_ids, now=finished)
        write_preview(session, preview, now=finished, base_url=digest_settings.base_url)
    digest = send_demo_digest(
        store, schedule=digest_settings.schedule, base_url=digest_settings.base_url
    )
    return DemoResult(
        summary, site_url, access_log, preview, passwords, digest, second_day_run, alerts
    )


def _crawl(
    store: Store,
    console: Console,
    source: SourceConfig,
    sources_file: Path,
    env: dict[str, str],
    *,
    label: str,
) -> int:
    outcome: CrawlOutcome = crawl_with_progress(
        store,
        console,
        source.id,
        label=f"{label} {source.id} ({source.name})",
        sources=[sources_file],
        env=env,
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
    return outcome.run_id


def demo_signing_key(home: Path) -> tuple[str, Path | None]:
    """Return the referral signing key: SYNTHWATCH_SIGNING_KEY, else the demo's own key file.

    The file (``$SYNTHWATCH_HOME/demo-signing-key``, readable by its owner only) is made on
    the first run and kept, so packages signed in one demo run verify in the next.
    """
    configured = signing_key_from_env()
    if configured is not None:
        return configured, None
    path = home / SIGNING_KEY_FILE
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(generate_key_text() + "\n")
    text = path.read_text(encoding="ascii").strip()
    load_signing_key(text, name=str(path))
    return text, path


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


def _print_outcome(console: Console, result: DemoResult, key_file: Path | None) -> None:
    console.print(f"digest preview: {result.digest_preview}", highlight=False)
    digest = result.digest
    if digest.problem:
        console.print(f"digest not sent: {digest.problem}", highlight=False)
    elif digest.enqueued or digest.sent or digest.failed:
        weeks = ", ".join(digest.enqueued) or "waiting messages"
        console.print(
            f"digest of {weeks}: {digest.sent} sent to the mail sink on 127.0.0.1:{digest.port}, "
            f"{digest.failed} not; messages in {digest.folder}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"digest: the last ended week was sent before (messages in {digest.folder})",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"second day: crawl run {result.second_day_run} crawled {SECOND_DAY_SOURCE} again "
        "after one of its listings changed",
        highlight=False,
        soft_wrap=True,
    )
    alerts = result.alerts
    console.print(
        f"watch rule {alerts.rule_id} of demo-analyst: alerts raised after the first crawls and "
        f"after the second day: {alerts.raised or 'none'}, {alerts.sent} sent to the mail sink "
        f"({alerts.folder}){'; ' + alerts.problem if alerts.problem else ''}",
        highlight=False,
        soft_wrap=True,
    )
    if key_file is not None:
        console.print(
            f"referral packages are signed with the demo key in {key_file}; for the CLI: "
            f'export SYNTHWATCH_SIGNING_KEY="$(cat {key_file})"',
            highlight=False,
            soft_wrap=True,
        )


def _json_result(result: DemoResult, key_file: Path | None) -> dict[str, object]:
    return {
        **result.summary.to_dict(),
        "site_url": result.site_url,
        "access_log": str(result.access_log),
        "digest_preview": str(result.digest_preview),
        "digest": result.digest.to_dict(),
        "second_day_run": result.second_day_run,
        "alerts": result.alerts.to_dict(),
        "signing_key_file": str(key_file) if key_file else None,
        "users": dict(DEMO_USERS),
    }
