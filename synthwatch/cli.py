"""The one command, ``synthwatch``: argument parsing and wiring, no logic of its own."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError

from crawlers.errors import CrawlerError
from review.errors import ReviewError
from storage.audit import acting_as
from storage.errors import StorageError
from synthwatch import __version__
from synthwatch.commands import MODULES
from synthwatch.commands.common import UNATTENDED, actor_name, command_actor
from synthwatch.errors import UsageError
from synthwatch.examples import add_examples

# Errors a user can act on: reported as one line, never as a traceback.
USER_ERRORS = (UsageError, CrawlerError, StorageError, ReviewError)
EPILOG = """examples:
  synthwatch demo                      crawl the demo marketplace, open the review app
  synthwatch sources check FILE        validate source files
  synthwatch crawl ID --sources FILE   crawl one approved source
  synthwatch COMMAND --help            each command's options, with an example"""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where the usage is."""

    def error(self, message: str) -> NoReturn:
        """Report a bad argument in one line and exit 2, as argparse does."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``synthwatch`` and its subcommands."""
    # Subcommands' parsers are made of the same class, so they report errors the same way.
    parser = Parser(
        prog="synthwatch",
        description="Watch the open web for listings offering illicit synthetic drugs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--as",
        dest="actor",
        metavar="NAME",
        type=actor_name,
        help="who runs the command, as the audit log names it (cli:NAME; default: the OS user)",
    )
    parser.add_argument("--version", action="version", version=f"synthwatch {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in MODULES:
        module.register(sub)
    add_examples(parser)
    return parser


def version() -> str:
    """Return the installed version (the package's own when it runs uninstalled)."""
    try:
        return metadata.version("synthwatch")
    except metadata.PackageNotFoundError:
        return __version__


def configure_logging(verbose: bool) -> None:
    """Send log records to stderr; the only place logging is configured."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic announces its SQLite dialect on every connection check; only its warnings matter.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler logs every lease check; the scheduler logs each crawl it starts and ends.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # The demo's mail sink (aiosmtpd) logs every SMTP line; the outbox logs each message.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``synthwatch``; return the process exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    console = Console(stderr=True)
    try:
        if args.command in UNATTENDED:
            return int(args.handler(args) or 0)
        with acting_as(command_actor(args.actor)):
            return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        console.print("stopped")
        return 130
    except OperationalError as error:
        # The database went away after it was opened (a restart, a network cut); -v shows where.
        logging.getLogger(__name__).debug("database error", exc_info=error)
        reason = (str(error.orig) or type(error.orig).__name__).strip().splitlines()[0]
        console.print(f"[red]error:[/red] database: {escape(reason)}", soft_wrap=True)
        return 2
    except USER_ERRORS as error:
        # Messages quote files and URLs (`[[source]]` is text, not rich markup); one line each.
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
