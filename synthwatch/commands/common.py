"""What the subcommands share: opening the store, asking for a password, consoles, and the
argument types that turn a bad number or id into a one-line usage error."""

from __future__ import annotations

import argparse
import getpass
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from crawlers.sources import SOURCE_ID
from storage.config import StorageSettings
from storage.errors import MigrationError
from synthwatch.errors import UsageError
from synthwatch.store import Store

# argparse keeps its subparsers' type private; this is what `add_subparsers()` returns.
Subparsers = Any

out = Console()
err = Console(stderr=True)

# Ids are INTEGER columns; PostgreSQL's is 32 bits, so no stored id is larger.
MAX_ID = 2**31 - 1
# No crawl or digest is meant to run for more than a week.
MAX_SECONDS = 7 * 24 * 3600.0
# Values of SYNTHWATCH_ALLOW_LOOPBACK that switch it on, as crawlers/settings.py reads them.
TRUE_WORDS = frozenset({"1", "true", "yes"})


def open_store(*, migrate: bool = False) -> Store:
    """Open the configured database, insisting that it is migrated (or migrating it).

    A state folder that can't be made, a URL that is no database URL and a database that
    can't be reached are usage errors, reported in one line.
    """
    settings = StorageSettings.from_env()
    try:
        return Store.open(settings, migrate=migrate)
    except MigrationError as error:
        raise UsageError(str(error)) from error
    except OSError as error:
        raise UsageError(
            f"cannot create the state folder {settings.home} (SYNTHWATCH_HOME): "
            f"{error.strerror or error}"
        ) from error
    except ArgumentError as error:
        raise UsageError(
            f"SYNTHWATCH_DATABASE_URL is not a database URL SQLAlchemy can use: {error}"
        ) from error
    except DBAPIError as error:
        reason = (str(error.orig) or type(error.orig).__name__).strip().splitlines()[0]
        where = shown_url(settings.database_url)
        raise UsageError(f"cannot open the database at {where}: {reason}") from error


def shown_url(url: str) -> str:
    """Return a database URL without its password, fit for a message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def allow_loopback(environ: Mapping[str, str] = os.environ) -> bool:
    """Say whether SYNTHWATCH_ALLOW_LOOPBACK lets crawls fetch loopback addresses."""
    return environ.get("SYNTHWATCH_ALLOW_LOOPBACK", "").strip().lower() in TRUE_WORDS


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type accepting a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        digits = text.strip()
        if digits.isascii() and digits.lstrip("-").isdigit() and len(digits) <= len(str(high)) + 1:
            value = int(digits)
            if low <= value <= high:
                return value
        raise argparse.ArgumentTypeError(
            f"must be a whole number from {low} to {high}, not {text[:40]!r}"
        )

    return parse


def seconds(text: str) -> float:
    """Parse a positive, finite number of seconds, at most MAX_SECONDS."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SECONDS:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_SECONDS:.0f}, not {text[:40]!r}"
        )
    return value


def source_id(text: str) -> str:
    """Parse a source id: lower-case letters, digits and dashes, as source files name them."""
    if not SOURCE_ID.match(text):
        raise argparse.ArgumentTypeError(
            f"{text[:80]!r} is not a source id (lower-case letters, digits and '-', "
            "at most 64 characters)"
        )
    return text


record_id = whole_number(1, MAX_ID)
port = whole_number(1, 65535)
# 0 asks the system for any free port (the demo marketplace in tests).
port_or_any = whole_number(0, 65535)


# A name for the audit log: what a review username may be, short enough for the "cli:" prefix.
ACTOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,59}")
# Commands that run unattended (servers, the scheduler, crawls): their rows stay "system".
UNATTENDED = frozenset({"serve", "schedule", "demo", "crawl", "worker"})


def actor_name(text: str) -> str:
    """Parse the ``--as NAME`` of the command line: who runs it, for the audit log."""
    if not ACTOR_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text[:80]!r} is not a name (1-60 letters, digits, '.', '_', '@' or '-')"
        )
    return text


def command_actor(name: str | None) -> str:
    """Return how the audit log names the person at the command line: ``cli:NAME``.

    ``NAME`` is ``--as NAME``, else the operating-system user. It is a label, not a signed-in
    user: commands that act as a review user (``sources approve --as``) ask for the password.
    """
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no user name in the environment or the password database
            name = f"uid-{os.getuid()}"
    return f"cli:{name}"[:64]


def read_password(prompt: str) -> str:
    """Ask for a password on the terminal, or read one line from a pipe (for scripts)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")
