"""The clock: one definition of "now" for every package, passed in where a decision needs it.

Storage functions never call it; they take ``now=`` from their caller, so that tests freeze time
by passing a fixed moment and every process agrees on what a clock is: an aware UTC datetime.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
