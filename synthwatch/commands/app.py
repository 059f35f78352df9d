"""``synthwatch db``, ``serve`` and ``digest``: the database and the review side."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from storage.config import StorageSettings
from synthwatch.commands.common import Subparsers, err, open_store
from synthwatch.store import Store


def register(sub: Subparsers) -> None:
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(
        handler=db_upgrade
    )

    serve = sub.add_parser("serve", help="serve the review app on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=serve_app)

    digest = sub.add_parser("digest", help="the weekly digest")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    preview = digest_sub.add_parser("preview", help="write the digest of a week to an HTML file")
    preview.add_argument("--week", help="ISO week such as 2026-W48 (default: this week)")
    preview.add_argument("--out", type=Path, required=True, metavar="FILE")
    preview.set_defaults(handler=digest_preview)


def db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database to the newest schema."""
    store = Store.open(StorageSettings.from_env(), migrate=True)
    err.print(f"database at {store.settings.database_url} is up to date", highlight=False)
    return 0


def serve_app(args: argparse.Namespace) -> int:
    """Serve the review app on 127.0.0.1 until interrupted."""
    from synthwatch.web import serve_review_app

    serve_review_app(open_store(), port=args.port)
    return 0


def digest_preview(args: argparse.Namespace) -> int:
    """Write one week's digest to an HTML file."""
    from review.digest import write_preview
    from review.settings import base_url_from_env

    store = open_store()
    with store.sessions() as session:
        path = write_preview(
            session, args.out, now=datetime.now(UTC), week=args.week, base_url=base_url_from_env()
        )
    err.print(f"digest written to {path}", highlight=False)
    return 0
