"""Errors the command reports to its user as one line, never as a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Something the user can fix: a bad file, a missing approval, an unmigrated database."""
