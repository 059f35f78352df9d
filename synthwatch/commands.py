"""Handlers of the ``synthwatch`` subcommands: each wires library functions together."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crawlers.errors import SourceError
from crawlers.runner import run_crawl
from crawlers.sources import SourceConfig, load_sources, scope_fingerprint
from storage.config import StorageSettings
from storage.errors import MigrationError
from storage.repository import approval_state
from synthwatch.errors import UsageError
from synthwatch.store import Store

log = logging.getLogger(__name__)


def demo(args: argparse.Namespace) -> int:
    """Crawl the demo marketplace, summarise, preview the digest and serve the review app."""
    from synthwatch.demo import run_demo

    return run_demo(
        serve=not args.no_serve,
        as_json=args.json,
        app_port=args.port,
        site_port=args.site_port,
    )


def db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database to the newest schema."""
    store = Store.open(StorageSettings.from_env(), migrate=True)
    Console(stderr=True).print(f"database at {store.settings.database_url} is up to date")
    return 0


def sources_check(args: argparse.Namespace) -> int:
    """Validate source files and print each source, or each error with its line."""
    console = Console()
    failed = False
    for path in args.files:
        try:
            sources = load_sources(path)
        except SourceError as error:
            console.print(f"[red]{error}[/red]", highlight=False)
            failed = True
            continue
        for source in sources:
            console.print(f"{path}: source {source.id!r} is valid", highlight=False)
    return 1 if failed else 0


def sources_list(args: argparse.Namespace) -> int:
    """List sources with the approval state of their current scope."""
    store = _open_store()
    table = Table("id", "name", "domains", "approval")
    with store.sessions() as session:
        for path in args.files:
            for source in _load(path):
                state = approval_state(session, source.id, scope_fingerprint(source))
                table.add_row(source.id, source.name, ", ".join(source.allowed_domains), state)
    Console().print(table)
    return 0


def crawl(args: argparse.Namespace) -> int:
    """Crawl one source in a child process and report how it ended."""
    settings = StorageSettings.from_env()
    outcome = run_crawl(args.source, sources=list(args.sources), env=None, timeout=args.timeout)
    console = Console(stderr=True)
    console.print(
        f"crawl of {args.source!r} ended with exit code {outcome.exit_code} after "
        f"{outcome.duration:.1f} s; log: {outcome.log_path}",
        highlight=False,
    )
    log.debug("state folder %s", settings.home)
    return 0 if outcome.exit_code == 0 else 1


def serve(args: argparse.Namespace) -> int:
    """Serve the review app on 127.0.0.1 until interrupted."""
    from synthwatch.web import serve_review_app

    serve_review_app(_open_store(), port=args.port)
    return 0


def digest_preview(args: argparse.Namespace) -> int:
    """Write one week's digest to an HTML file."""
    from review.digest import write_preview
    from review.settings import base_url_from_env

    store = _open_store()
    with store.sessions() as session:
        path = write_preview(
            session, args.out, now=datetime.now(UTC), week=args.week, base_url=base_url_from_env()
        )
    Console(stderr=True).print(f"digest written to {path}", highlight=False)
    return 0


def _open_store() -> Store:
    try:
        return Store.open(StorageSettings.from_env(), migrate=False)
    except MigrationError as error:
        raise UsageError(str(error)) from error


def _load(path: Path) -> list[SourceConfig]:
    try:
        return load_sources(path)
    except SourceError as error:
        raise UsageError(str(error)) from error
