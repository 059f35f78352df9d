"""Errors raised by the storage package."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of storage errors."""


class MigrationError(StorageError):
    """The database schema is not at the revision this code needs."""


class ScheduleError(StorageError, ValueError):
    """A source schedule that is not `interval:<n><unit>` or `cron:<5 crontab fields>`."""
