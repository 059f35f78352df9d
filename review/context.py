"""What a request of the review app works with: its database session, the clock, the settings."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from review.settings import ReviewSettings
from storage.audit import lock_chain
from storage.clock import Clock

EXTENSION = "synthwatch.review"
WRITES_ATTRIBUTE = "__synthwatch_writes__"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ReviewContext:
    """The app-wide objects ``create_app`` was given, kept in ``app.extensions``."""

    session_factory: sessionmaker[Session]
    settings: ReviewSettings
    clock: Clock


def review_context() -> ReviewContext:
    """Return the current app's review context."""
    return cast(ReviewContext, current_app.extensions[EXTENSION])


def db() -> Session:
    """Return this request's database session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = review_context().session_factory()
    return cast(Session, g.db_session)


def close_db(_error: BaseException | None = None) -> None:
    """Close this request's session; what was not committed is rolled back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def now() -> datetime:
    """Return the current time from the app's clock (timezone-aware UTC)."""
    return review_context().clock()


def request_id() -> str:
    """Return an id for this request, written into the audit rows it causes."""
    if "request_id" not in g:
        g.request_id = secrets.token_hex(8)
    return cast(str, g.request_id)


def writes(view: View) -> View:
    """Mark a GET view that writes to the database (an audit row of a download or a view)."""
    setattr(view, WRITES_ATTRIBUTE, True)
    return view


def writes_when(condition: Callable[[], bool]) -> Callable[[View], View]:
    """Mark a GET view that writes only when ``condition()`` holds for the request.

    The queue and the listings page write a search's audit row: only a request that searches
    takes the write lock, so browsing without one never waits for a writer.
    """

    def mark(view: View) -> View:
        setattr(view, WRITES_ATTRIBUTE, condition)
        return view

    return mark


def lock_for_writing() -> None:
    """Take the write lock first thing in a request that will write (a ``before_request`` hook).

    SQLite lets a transaction that has read write only if nobody committed since its first
    read; taking the lock before reading makes concurrent requests wait instead of fail.
    """
    if request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    marked = getattr(view, WRITES_ATTRIBUTE, False)
    if request.method not in READ_ONLY_METHODS or (marked() if callable(marked) else marked):
        lock_chain(db())
