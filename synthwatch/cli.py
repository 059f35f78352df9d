"""The one command, ``synthwatch``: argument parsing and wiring, no logic of its own."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from synthwatch import commands
from synthwatch.errors import UsageError

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``synthwatch`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="synthwatch",
        description="Watch the open web for listings offering illicit synthetic drugs.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="crawl the invented demo marketplace and open the review app"
    )
    demo.add_argument("--no-serve", action="store_true", help="stop after the summary")
    demo.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    demo.add_argument("--port", type=int, default=8000, help="review app port (default 8000)")
    demo.add_argument(
        "--site-port",
        type=int,
        default=8421,
        help="demo marketplace port; a free one is used when it is taken (default 8421)",
    )
    demo.set_defaults(handler=commands.demo)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="migrate the database to the newest schema").set_defaults(
        handler=commands.db_upgrade
    )

    sources = sub.add_parser("sources", help="source definitions")
    sources_sub = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    for action, handler, text in (
        ("check", commands.sources_check, "validate source files; name each error's line"),
        ("list", commands.sources_list, "list sources with their approval state"),
    ):
        cmd = sources_sub.add_parser(action, help=text)
        cmd.add_argument("files", nargs="+", type=Path, metavar="FILE")
        cmd.set_defaults(handler=handler)

    crawl = sub.add_parser("crawl", help="crawl one approved source in a child process")
    crawl.add_argument("source", help="source id")
    crawl.add_argument("--sources", type=Path, action="append", required=True, metavar="FILE")
    crawl.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    crawl.set_defaults(handler=commands.crawl)

    serve = sub.add_parser("serve", help="serve the review app")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=commands.serve)

    digest = sub.add_parser("digest", help="the weekly digest")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    preview = digest_sub.add_parser("preview", help="write the digest of a week to an HTML file")
    preview.add_argument("--week", help="ISO week such as 2026-W48 (default: this week)")
    preview.add_argument("--out", type=Path, required=True, metavar="FILE")
    preview.set_defaults(handler=commands.digest_preview)
    return parser


def configure_logging(verbose: bool) -> None:
    """Send log records to stderr; the only place logging is configured."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic announces its SQLite dialect on every connection check; only its warnings matter.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``synthwatch``; return the process exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    console = Console(stderr=True)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        console.print("stopped")
        return 130
    except UsageError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
