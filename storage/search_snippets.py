"""What a search found in each listing: its title and a snippet of its text with the matches
marked, as plain segments (text, matched) that a page escapes and marks up itself.

The database says which listings match (``storage.text_search``); the snippets are cut here,
the same way on SQLite and PostgreSQL, from the terms of the query that a match contains
(words compared without regard to case, words of a phrase separated by anything that is not a
letter or digit, a prefix ending anywhere in a word).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import ListingVersion
from storage.text_search import INDEXED_TEXT_CHARS, SearchQuery, Term

SNIPPET_CHARS = 240
# Matches marked in one snippet at most; a text of nothing but matches stays readable.
MAX_MARKS = 20
MAX_TITLE_CHARS = 500
FIELD_SEPARATOR = " · "

Segments = tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class Snippet:
    """A stretch of a text around its first match, in segments; ``…`` where it was cut."""

    segments: Segments
    cut_before: bool
    cut_after: bool
    where: str  # "text" or "fields"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A listing's latest title with its matches marked, and a snippet of its text or fields."""

    listing_id: int
    title: Segments
    snippet: Snippet | None


def _term_pattern(term: Term) -> str:
    words = [re.escape(word) for word in term.words]
    if term.prefix:
        words[-1] += r"[^\W_]*"
    return r"(?<![^\W_])" + r"[\W_]+".join(words) + r"(?![^\W_])"


def match_pattern(query: SearchQuery) -> re.Pattern[str]:
    """Return a regular expression finding the query's terms in a text."""
    terms = sorted(query.terms(), key=lambda t: -sum(map(len, t.words)))
    return re.compile("|".join(_term_pattern(term) for term in terms), re.IGNORECASE)


_SPACE = re.compile(r"\s+")


def _tidy(text: str) -> str:
    return _SPACE.sub(" ", text)


def marked(text: str, pattern: re.Pattern[str], *, limit: int = MAX_MARKS) -> Segments:
    """Split a text into segments, the matches of ``pattern`` marked, whitespace tidied."""
    segments: list[tuple[str, bool]] = []
    at = 0
    for n, match in enumerate(pattern.finditer(text)):
        if n >= limit:
            break
        if match.start() > at:
            segments.append((_tidy(text[at : match.start()]), False))
        segments.append((_tidy(match.group()), True))
        at = match.end()
    if at < len(text):
        segments.append((_tidy(text[at:]), False))
    return tuple(s for s in segments if s[0])


def snippet(
    text: str, pattern: re.Pattern[str], *, where: str = "text", chars: int = SNIPPET_CHARS
) -> Snippet | None:
    """Return the stretch of ``text`` around its first match, or None if nothing matches."""
    text = text[:INDEXED_TEXT_CHARS]
    first = pattern.search(text)
    if first is None:
        return None
    start = max(0, first.start() - chars // 3)
    if start:
        # Begin at a word: after the first space of the stretch, unless that loses the match.
        space = text.find(" ", start, first.start())
        start = space + 1 if space >= 0 else start
    end = min(len(text), max(start + chars, first.end()))
    if end < len(text):
        space = text.rfind(" ", first.end(), end)
        end = space if space > 0 else end
    return Snippet(marked(text[start:end], pattern), start > 0, end < len(text), where)


def _field_text(fields: Any) -> str:
    if not isinstance(fields, dict):
        return ""
    return FIELD_SEPARATOR.join(str(value) for value in fields.values() if value not in (None, ""))


def listing_hits(
    session: Session, listing_ids: Sequence[int], query: SearchQuery
) -> dict[int, SearchHit]:
    """Return what the search found in the latest version of each of these listings."""
    if not listing_ids:
        return {}
    latest = (
        select(func.max(ListingVersion.id))
        .where(ListingVersion.listing_id.in_(listing_ids))
        .group_by(ListingVersion.listing_id)
    )
    rows = session.execute(
        select(
            ListingVersion.listing_id,
            ListingVersion.title,
            ListingVersion.text,
            ListingVersion.fields,
        ).where(ListingVersion.id.in_(latest))
    )
    pattern = match_pattern(query)
    hits = {}
    for listing_id, title, text, fields in rows:
        found = snippet(text, pattern) or snippet(_field_text(fields), pattern, where="fields")
        hits[listing_id] = SearchHit(listing_id, marked(title[:MAX_TITLE_CHARS], pattern), found)
    return hits
