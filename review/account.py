"""A user's own settings: the time zone times are shown in, and named queue filters.

Stored times stay UTC; the zone only changes how pages show them and which UTC hours the
queue's "from" and "to" days cover. Each change writes its audit row in the same transaction;
the caller commits. Reading a filter's query string is the queue's (``review.views.queue``):
a saved query holds only what the queue read from it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy.orm import Session

from review.errors import NotFoundError, ReviewError
from storage.audit import append_event
from storage.models import SavedFilter, User
from storage.saved_filters import (
    add_saved_filter,
    delete_saved_filter,
    get_saved_filter,
    named_filter,
)

DEFAULT_ZONE = "UTC"
# Names zoneinfo lists that are no zone of their own: "localtime" is whatever this machine is
# set to, "Factory" is tzdata's placeholder for "not set".
NOT_ZONES = frozenset({"localtime", "Factory"})
MAX_FILTER_NAME = 80
MAX_FILTER_QUERY = 2000


class AccountError(ReviewError):
    """A setting or saved filter the rules refuse: an unknown zone, a name taken or too long."""


@cache
def zone_names() -> tuple[str, ...]:
    """Return the IANA time zones a user may pick, sorted."""
    return tuple(sorted((available_timezones() - NOT_ZONES) | {DEFAULT_ZONE}))


def check_time_zone(name: str) -> str:
    """Return ``name`` when it is a time zone a user may pick, else raise naming it."""
    if name not in zone_names():
        raise AccountError(f"there is no time zone {name[:64]!r}; pick one from the list")
    return name


def user_zone(user: User | None) -> ZoneInfo:
    """Return the zone to show a user's times in (UTC without a user or a zone known)."""
    name = user.time_zone if user is not None else DEFAULT_ZONE
    return ZoneInfo(name if name in zone_names() else DEFAULT_ZONE)


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """Show a UTC time in ``zone``, in ISO order and with its abbreviation.

    ``2026-12-07 16:05 CET``; zones without a letter abbreviation have tzdata's offset instead,
    shown as ``UTC-03``.
    """
    shown = moment.astimezone(zone)
    abbreviation = shown.tzname() or ""
    if abbreviation[:1] in ("+", "-"):
        abbreviation = f"UTC{abbreviation}"
    return f"{shown:%Y-%m-%d %H:%M} {abbreviation}"


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Return the UTC time at which ``day`` begins (00:00) in ``zone``."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def set_time_zone(
    session: Session, user: User, name: str, *, now: datetime, request_id: str | None = None
) -> None:
    """Show a user's times in the zone ``name`` from now on; audited as ``user.time_zone_set``."""
    before, user.time_zone = user.time_zone, check_time_zone(name)
    append_event(
        session,
        action="user.time_zone_set",
        object_type="user",
        object_id=user.id,
        actor=user,
        now=now,
        request_id=request_id,
        detail={"from": before, "to": name},
    )


def check_filter_name(session: Session, user: User, name: str) -> str:
    """Return a filter name with its spaces trimmed, or raise saying what is wrong with it."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_FILTER_NAME:
        raise AccountError(f"a filter's name has 1 to {MAX_FILTER_NAME} characters")
    if not name.isprintable():
        raise AccountError("a filter's name can't hold line breaks or control characters")
    if named_filter(session, user.id, name) is not None:
        raise AccountError(f"you have a filter named {name!r} already; pick another name")
    return name


def save_filter(
    session: Session,
    user: User,
    *,
    name: str,
    query: str,
    now: datetime,
    request_id: str | None = None,
) -> SavedFilter:
    """Save the queue query ``query`` (as the queue read it) under ``name``; audited."""
    name = check_filter_name(session, user, name)
    if len(query) > MAX_FILTER_QUERY:
        raise AccountError(f"this filter is longer than {MAX_FILTER_QUERY} characters")
    saved = add_saved_filter(session, user_id=user.id, name=name, query=query, now=now)
    append_event(
        session,
        action="user.filter_saved",
        object_type="saved_filter",
        object_id=saved.id,
        actor=user,
        now=now,
        request_id=request_id,
        detail={"name": name, "query": query},
    )
    return saved


def own_filter(session: Session, user: User, filter_id: int) -> SavedFilter:
    """Return one of the user's saved filters; another user's is not found, as a missing one."""
    saved = get_saved_filter(session, user.id, filter_id)
    if saved is None:
        raise NotFoundError(f"you have no saved filter {filter_id}")
    return saved


def delete_filter(
    session: Session,
    user: User,
    filter_id: int,
    *,
    now: datetime,
    request_id: str | None = None,
) -> str:
    """Delete one of the user's saved filters and return its name; audited."""
    saved = own_filter(session, user, filter_id)
    name, query = saved.name, saved.query
    delete_saved_filter(session, saved)
    append_event(
        session,
        action="user.filter_deleted",
        object_type="saved_filter",
        object_id=filter_id,
        actor=user,
        now=now,
        request_id=request_id,
        detail={"name": name, "query": query},
    )
    return name


def query_terms(query: str) -> list[tuple[str, str]]:
    """Return a saved query's terms as (key, value) pairs, to show what a filter selects."""
    return parse_qsl(query)
