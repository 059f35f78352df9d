"""What the subcommands share: opening the store, asking for a password, consoles."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from rich.console import Console

from storage.config import StorageSettings
from storage.errors import MigrationError
from synthwatch.errors import UsageError
from synthwatch.store import Store

# argparse keeps its subparsers' type private; this is what `add_subparsers()` returns.
Subparsers = Any

out = Console()
err = Console(stderr=True)


def open_store() -> Store:
    """Open the configured database, insisting that it is migrated."""
    try:
        return Store.open(StorageSettings.from_env(), migrate=False)
    except MigrationError as error:
        raise UsageError(str(error)) from error


def read_password(prompt: str) -> str:
    """Ask for a password on the terminal, or read one line from a pipe (for scripts)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")
