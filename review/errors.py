"""Errors raised by the review package."""

from __future__ import annotations


class ReviewError(Exception):
    """Base class of review errors."""


class SettingsError(ReviewError):
    """An environment variable of the review app has a value it can't use."""


class UserError(ReviewError):
    """A user that can't be created as asked (unknown role, empty password, ...)."""


class WeekError(ReviewError):
    """A digest week that is not an ISO week such as ``2026-W48``."""


class NotFoundError(ReviewError):
    """A user or source the caller named does not exist."""


class ApprovalError(ReviewError):
    """A source approval or suspension that the rules do not allow."""
