"""Full-text search over listings: the one home of the search grammar and of its index.

What is searched: the latest version of each listing, its title, its text (the first
``INDEXED_TEXT_CHARS`` characters) and the values of its extracted fields. Words are runs of
letters and digits, compared without regard to case; everything else separates words, so
``4-MMC`` is the phrase ``4 MMC`` and ``seller@example.com`` the phrase ``seller example com``.

The grammar (operators in capitals; lower-case ``and``/``or``/``not`` are words)::

    fentanyl powder        both words (AND is implied)
    fentanyl AND powder    the same
    nitazene OR fentanyl   either
    fentanyl NOT patch     the first without the second (NOT only narrows: never alone)
    "pressed pills"        the words next to each other, in this order
    carfent*               a word beginning with "carfent" (at least 2 letters before *)
    (a OR b) c             parentheses group

The query is parsed here into a tree and compiled to each backend's syntax from validated
words only: what a user types never reaches SQLite's ``MATCH`` or PostgreSQL's
``to_tsquery`` as written, and a query that can't be read raises ``SearchSyntaxError`` with
a message that says why. The index itself is kept by the database (migration 0010): on
SQLite an FTS5 table ``listing_text_search`` filled by triggers on ``listing_versions``; on
PostgreSQL the generated column ``listing_versions.search_vector`` with a GIN index. A batch
migration that recreates ``listing_versions`` on SQLite drops those triggers with the table
and must create them again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Integer, SQLColumnExpression, bindparam, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

from storage.audit import append_event
from storage.errors import StorageError
from storage.models import User

# Keep in step with migration 0010, which builds the index from these.
FTS_TABLE = "listing_text_search"
SEARCH_VECTOR = "search_vector"
INDEXED_TEXT_CHARS = 200_000
TS_CONFIG = "simple"

MAX_QUERY_CHARS = 200
MAX_TERMS = 20
MAX_DEPTH = 8
MIN_PREFIX_CHARS = 2
OPERATORS = ("AND", "OR", "NOT")
# A word: letters and digits (Unicode); "_" separates, as it does for both backends.
WORD = re.compile(r"[^\W_]+")


class SearchSyntaxError(StorageError):
    """A search query that can't be read; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Term:
    """Words that must follow each other; the last one may be a prefix."""

    words: tuple[str, ...]
    prefix: bool = False

    def shown(self) -> str:
        """Return the term as a user would write it."""
        text = " ".join(self.words)
        text = f'"{text}"' if len(self.words) > 1 else text
        return text + ("*" if self.prefix else "")


@dataclass(frozen=True, slots=True)
class Not:
    """Listings without what ``part`` matches (only beside something that matches)."""

    part: Node


@dataclass(frozen=True, slots=True)
class All:
    """Listings matching every part."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    """Listings matching at least one part."""

    parts: tuple[Node, ...]


Node = Term | Not | All | Any_


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: the text as typed (whitespace tidied) and its tree."""

    text: str
    tree: Node

    def terms(self) -> tuple[Term, ...]:
        """Return the terms a match contains (those under NOT left out), for highlighting."""
        found: list[Term] = []

        def walk(node: Node) -> None:
            if isinstance(node, Term):
                found.append(node)
            elif isinstance(node, All | Any_):
                for part in node.parts:
                    walk(part)

        walk(self.tree)
        return tuple(dict.fromkeys(found))


# ---------------------------------------------------------------- reading a query


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "AND", "OR", "NOT" or "term"
    at: int  # 1-based character position, for messages
    term: Term | None = None


def _words(text: str) -> tuple[str, ...]:
    return tuple(m.group().lower() for m in WORD.finditer(text))


def _term(text: str, at: int, prefix: bool) -> Term | None:
    words = _words(text)
    if not words:
        return None  # punctuation alone ("-", "$") separates, as in an indexed text
    if prefix and len(words[-1]) < MIN_PREFIX_CHARS:
        raise SearchSyntaxError(
            f"“{words[-1]}*” (character {at}): a prefix needs at least {MIN_PREFIX_CHARS}"
            " letters or digits before the *."
        )
    return Term(words, prefix)


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, i + 1))
            i += 1
        elif char == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise SearchSyntaxError(
                    f"The quote at character {i + 1} is not closed: end the phrase with a quote."
                )
            prefix = text.startswith("*", close + 1)
            term = _term(text[i + 1 : close], i + 1, prefix)
            if term is not None:
                tokens.append(_Token("term", i + 1, term))
            i = close + 1 + prefix
        else:
            end = i
            while end < len(text) and not (text[end].isspace() or text[end] in '()"'):
                end += 1
            word = text[i:end]
            if word in OPERATORS:
                tokens.append(_Token(word, i + 1))
            else:
                term = _term(word.rstrip("*"), i + 1, word.endswith("*"))
                if term is not None:
                    tokens.append(_Token("term", i + 1, term))
            i = end
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.next = 0
        self.terms = 0

    def peek(self) -> str | None:
        return self.tokens[self.next].kind if self.next < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.next]
        self.next += 1
        return token

    def where(self) -> str:
        if self.next < len(self.tokens):
            return f"at character {self.tokens[self.next].at}"
        return "at the end"

    def any_(self, depth: int) -> Node:
        parts = [self.all_(depth)]
        while self.peek() == "OR":
            self.take()
            parts.append(self.all_(depth))
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def all_(self, depth: int) -> Node:
        parts: list[Node] = []
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
                if not parts or self.peek() in (None, ")", "OR", "AND"):
                    raise SearchSyntaxError(f"AND needs a term on each side ({self.where()}).")
                continue
            parts.append(self.unary(depth))
        if not parts:
            before = self.tokens[self.next - 1].kind if self.next else None
            if self.peek() == "OR" or before == "OR":
                raise SearchSyntaxError(f"OR needs a term on each side ({self.where()}).")
            if before != "(":
                at = self.tokens[self.next].at
                raise SearchSyntaxError(f"A closing parenthesis at character {at} opens nothing.")
            raise SearchSyntaxError(f"Empty parentheses: put a term inside ({self.where()}).")
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def unary(self, depth: int) -> Node:
        kind = self.peek()
        if kind == "NOT":
            self.take()
            if self.peek() in (None, ")", "OR", "AND", "NOT"):
                raise SearchSyntaxError(f"NOT needs a term after it ({self.where()}).")
            return Not(self.unary(depth))
        token = self.take()
        if token.kind == "(":
            if depth >= MAX_DEPTH:
                raise SearchSyntaxError(f"Parentheses nest at most {MAX_DEPTH} deep.")
            inner = self.any_(depth + 1)
            if self.peek() != ")":
                raise SearchSyntaxError(
                    f"The parenthesis at character {token.at} is not closed ({self.where()})."
                )
            self.take()
            return inner
        if token.kind == ")":
            raise SearchSyntaxError(f"A closing parenthesis at character {token.at} opens nothing.")
        assert token.term is not None
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise SearchSyntaxError(f"A search has at most {MAX_TERMS} terms.")
        return token.term


def _check_negations(node: Node) -> None:
    """Refuse a NOT that narrows nothing: alone, or as a choice of an OR."""
    if isinstance(node, Not):
        raise SearchSyntaxError(
            f"NOT {_shown(node.part)} alone matches nearly every listing: "
            "put a term before it, e.g. fentanyl NOT patch."
        )
    if isinstance(node, Any_):
        for part in node.parts:
            _check_negations(part)
    if isinstance(node, All):
        if all(isinstance(part, Not) for part in node.parts):
            raise SearchSyntaxError(
                "Every term is under NOT: add a term to search for, e.g. fentanyl NOT patch."
            )
        for part in node.parts:
            _check_negations(part.part if isinstance(part, Not) else part)


def _shown(node: Node) -> str:
    if isinstance(node, Term):
        return node.shown()
    if isinstance(node, Not):
        return f"NOT {_shown(node.part)}"
    joiner = " OR " if isinstance(node, Any_) else " "
    return "(" + joiner.join(_shown(part) for part in node.parts) + ")"


def parse_search(text: str) -> SearchQuery:
    """Read a search query (see the module doc for the grammar)."""
    tidy = " ".join(unicodedata.normalize("NFC", text).split())
    if not tidy:
        raise SearchSyntaxError("Nothing to search for: type a word or a phrase.")
    if len(tidy) > MAX_QUERY_CHARS:
        raise SearchSyntaxError(
            f"Search for at most {MAX_QUERY_CHARS} characters, not {len(tidy)}."
        )
    tokens = _tokens(tidy)
    if not any(token.kind == "term" for token in tokens):
        raise SearchSyntaxError(
            f"“{tidy[:40]}” has no letters or digits to search for: type a word or a phrase."
        )
    parser = _Parser(tokens)
    tree = parser.any_(0)
    if parser.peek() is not None:
        raise SearchSyntaxError(
            f"A closing parenthesis at character {parser.take().at} opens nothing."
        )
    _check_negations(tree)
    return SearchQuery(tidy, tree)


# ---------------------------------------------------------------- compiling it


def fts5_query(node: Node) -> str:
    """Return the FTS5 ``MATCH`` expression of a tree (words are letters and digits only)."""
    if isinstance(node, Term):
        return '"' + " ".join(node.words) + '"' + ("*" if node.prefix else "")
    if isinstance(node, Any_):
        return " OR ".join(f"({fts5_query(part)})" for part in node.parts)
    if isinstance(node, All):
        wanted = [part for part in node.parts if not isinstance(part, Not)]
        unwanted = [part.part for part in node.parts if isinstance(part, Not)]
        query = " AND ".join(f"({fts5_query(part)})" for part in wanted)
        if unwanted:
            # FTS5's NOT is binary: what the left side matches, less what the right does.
            query = f"({query}) NOT (" + " OR ".join(f"({fts5_query(p)})" for p in unwanted) + ")"
        return query
    raise SearchSyntaxError("NOT needs a term to narrow")  # refused by parse_search already


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_text(node: Node) -> str:
    """Return the ``to_tsquery`` text of a tree (words are letters and digits only)."""
    if isinstance(node, Term):
        lexemes = [_lexeme(word) for word in node.words]
        if node.prefix:
            lexemes[-1] += ":*"
        return " <-> ".join(lexemes)
    if isinstance(node, Not):
        return f"!({tsquery_text(node.part)})"
    joiner = " | " if isinstance(node, Any_) else " & "
    return joiner.join(f"({tsquery_text(part)})" for part in node.parts)


class TextMatch(ColumnElement[bool]):
    """True where ``version_id`` is the id of a listing version that a search matches."""

    type = Boolean()
    inherit_cache = False  # the compiled query text depends on the search

    def __init__(self, version_id: ColumnElement[Any], query: SearchQuery) -> None:
        self.version_id = version_id
        self.query = query


@compiles(TextMatch, "sqlite")
def _match_sqlite(element: TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.version_id, **kw)
    match = compiler.process(bindparam("text_search", fts5_query(element.query.tree), unique=True))
    return f"{column} IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH {match})"


@compiles(TextMatch, "postgresql")
def _match_postgresql(element: TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.version_id, **kw)
    query = compiler.process(
        bindparam("text_search", tsquery_text(element.query.tree), unique=True)
    )
    return (
        f"{column} IN (SELECT text_search.id FROM listing_versions AS text_search"
        f" WHERE text_search.{SEARCH_VECTOR} @@ to_tsquery('{TS_CONFIG}', {query}))"
    )


@compiles(TextMatch)
def _match_other(element: TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    raise SearchSyntaxError(
        f"full-text search needs SQLite or PostgreSQL, not {compiler.dialect.name}"
    )


def text_matches(version_id: SQLColumnExpression[Any], query: SearchQuery) -> ColumnElement[bool]:
    """Return the condition that the listing version ``version_id`` matches the search."""
    return TextMatch(type_coerce(version_id, Integer), query)


# ---------------------------------------------------------------- auditing it


def record_search(
    session: Session,
    query: SearchQuery,
    *,
    where: str,
    results: int,
    now: datetime,
    filters: dict[str, str] | None = None,
    actor: User | None = None,
    request_id: str | None = None,
) -> None:
    """Write the audit row of a search: who, what, where (queue, listings, cli), how many."""
    append_event(
        session,
        action="search",
        object_type="search",
        object_id=where,
        now=now,
        actor=actor,
        detail={"query": query.text, "filters": dict(filters or {}), "results": results},
        request_id=request_id,
    )
