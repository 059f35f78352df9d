"""Users' saved queue filters: a name and the query string it stands for, one user's own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import SavedFilter


def saved_filters(session: Session, user_id: int) -> list[SavedFilter]:
    """Return a user's saved filters, by name."""
    query = select(SavedFilter).where(SavedFilter.user_id == user_id).order_by(SavedFilter.name)
    return list(session.scalars(query))


def get_saved_filter(session: Session, user_id: int, filter_id: int) -> SavedFilter | None:
    """Return a saved filter of this user by id; another user's is None, as a missing one."""
    return session.scalar(
        select(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.user_id == user_id)
    )


def named_filter(session: Session, user_id: int, name: str) -> SavedFilter | None:
    """Return the user's saved filter of this name, or None."""
    return session.scalar(
        select(SavedFilter).where(SavedFilter.user_id == user_id, SavedFilter.name == name)
    )


def add_saved_filter(
    session: Session, *, user_id: int, name: str, query: str, now: datetime
) -> SavedFilter:
    """Add a saved filter; the caller checks the name and the query."""
    saved = SavedFilter(user_id=user_id, name=name, query=query, created_at=now)
    session.add(saved)
    session.flush()
    return saved


def delete_saved_filter(session: Session, saved: SavedFilter) -> None:
    """Delete a saved filter."""
    session.delete(saved)
    session.flush()
