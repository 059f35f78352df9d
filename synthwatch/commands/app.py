"""``synthwatch db`` and ``serve``: the database and the review app."""

from __future__ import annotations

import argparse

from synthwatch.commands.common import Subparsers, err, open_store, port
from synthwatch.errors import UsageError


def register(sub: Subparsers) -> None:
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(
        handler=db_upgrade
    )

    serve = sub.add_parser("serve", help="serve the review app on 127.0.0.1")
    serve.add_argument("--port", type=port, default=8000, help="from 1 to 65535 (default 8000)")
    serve.set_defaults(handler=serve_app)


def db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database to the newest schema."""
    store = open_store(migrate=True)
    err.print(f"database at {store.settings.database_url} is up to date", highlight=False)
    return 0


def serve_app(args: argparse.Namespace) -> int:
    """Serve the review app on 127.0.0.1 until interrupted."""
    from synthwatch.web import serve_review_app

    store = open_store()
    try:
        serve_review_app(store, port=args.port)
    except OSError as error:
        # Taken, or below 1024 without the privilege: say so instead of a traceback.
        reason = error.strerror or str(error)
        raise UsageError(f"cannot serve on 127.0.0.1:{args.port}: {reason}") from error
    return 0
