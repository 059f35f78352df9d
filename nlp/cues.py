"""Keyword cues from `nlp/data/cues.toml`, compiled into one regex per family."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from nlp.analysis import CONTEXT_KINDS, INDICATOR_KINDS
from nlp.errors import NlpDataError

_ROW_CACHE_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A keyword cue found in the normalised text."""

    start: int
    end: int
    kind: str
    value: str


def lowercase(text: str) -> str:
    """Lowercase `text` without changing its length (offsets stay valid)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _has_top_level_bar(pattern: str) -> bool:
    depth = 0
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


def _top_level(pattern: str) -> tuple[list[str], int]:
    """Split `pattern` at its top-level bars, up to the ")" closing its first group.

    Returns the alternatives and the index of that ")" (len(pattern) if it has none).
    """
    parts: list[str] = []
    depth = 0
    start = 0
    escaped = in_class = False
    for i, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]" or i == start
        elif char == "[":
            in_class = True
            start = i + 1 if pattern[i + 1 : i + 2] != "^" else i + 2
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return [*parts, pattern[len("".join(parts)) + len(parts) : i]], i
        elif char == "|" and depth == 0:
            parts.append(pattern[len("".join(parts)) + len(parts) : i])
    return [*parts, pattern[len("".join(parts)) + len(parts) :]], len(pattern)


def _by_first_character(pattern: str, depth: int = 0) -> list[tuple[str, str]] | None:
    """Return `pattern` as (first letter or digit, rest) alternatives in order, or None.

    "(?:big|huge) stock" is ("b", "ig stock"), ("h", "uge stock"); "(?:for )?research" is
    ("f", "or research"), ("r", "esearch"); "\\d+ ?l" is one per digit, ("0", "\\d* ?l") ....
    Leftmost-first, "(?:A|B)R" tries the same things in the same order as "AR|BR", and
    "(?:A)?R" as "AR|R". None when the pattern starts otherwise.
    """
    if depth > 8 or not pattern:
        return None
    alternatives, _ = _top_level(pattern)
    if len(alternatives) > 1:
        found: list[tuple[str, str]] = []
        for alternative in alternatives:
            expanded = _by_first_character(alternative, depth + 1)
            if expanded is None:
                return None
            found.extend(expanded)
        return found
    if pattern[0].isalnum() and pattern[1:2] not in ("?", "*", "+", "{"):
        return [(pattern[0], pattern[1:])]
    if pattern.startswith("\\d") and pattern[2:3] not in ("?", "*", "{"):
        if pattern[2:3] == "+":
            if pattern[3:4] in ("?", "+"):
                return None  # lazy or possessive
            rest = "\\d*" + pattern[3:]
        else:
            rest = pattern[2:]
        return [(digit, rest) for digit in "0123456789"]
    if not pattern.startswith("(?:"):
        return None
    inner, close = _top_level(pattern[3:])
    after = pattern[3 + close + 1 :]
    optional = after[:1] == "?"
    if optional:
        after = after[1:]
    if after[:1] in ("?", "*", "+", "{"):
        return None
    found = []
    for alternative in [*inner, *([""] if optional else [])]:
        expanded = _by_first_character(alternative + after, depth + 1)
        if expanded is None:
            return None
        found.extend(expanded)
    return found


def _dispatched(order: list[str], groups: dict[str, list[str]]) -> str | None:
    """Return the alternation with every branch behind its first character, or None.

    The engine rejects a branch starting with a literal at a glance and enters every other
    one ("(?:police|customs) raid") at every word. Each character's branches keep the order
    they had, so the same branch wins at every position.
    """
    by_character: dict[str, list[str]] = {}
    for key in order:
        if len(key) == 1 and key.isalnum():
            by_character.setdefault(key, []).extend(groups[key])
            continue
        for pattern in groups[key]:
            expanded = _by_first_character(pattern)
            if expanded is None:
                return None
            for first, rest in expanded:
                by_character.setdefault(first, []).append(rest)
    return "|".join(
        f"{key}(?:{'|'.join(rests)})" if len(rests) > 1 or rests[0] else key
        for key, rests in by_character.items()
    )


def grouped_alternation(patterns: list[str]) -> str:
    """Join regexes into one alternation, those starting with the same letter behind it.

    The regex engine tries every branch at every position; "d(?:hl|pd)" costs one test where
    "dhl|dpd" costs two. Order within a letter is kept, so earlier patterns still win.
    """
    groups: dict[str, list[str]] = {}
    order: list[str] = []
    for pattern in patterns:
        first = pattern[:1]
        plain = first.isalnum() and (len(pattern) < 2 or pattern[1] not in "?*+{")
        key = first if plain and not _has_top_level_bar(pattern) else pattern
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(pattern[1:] if key == first and plain else pattern)
    if any(not (len(key) == 1 and key.isalnum()) for key in order):
        dispatched = _dispatched(order, groups)
        if dispatched is not None:
            return dispatched
    branches: list[str] = []
    for key in order:
        rests = groups[key]
        if len(key) == 1 and key.isalnum():
            inner = "|".join(rest or "" for rest in rests)
            branches.append(f"{key}(?:{inner})" if len(rests) > 1 or rests[0] else key)
        else:
            branches.extend(rests)
    return "|".join(branches) or "(?!)"


class KeywordMatcher:
    """Find many (kind, value, pattern) cues in one pass of one alternation.

    The alternation has no groups and runs without IGNORECASE on lowercased text behind a
    look-behind for a word start, with patterns that share a first letter grouped behind it
    (`grouped_alternation`): several times faster than named groups with IGNORECASE. Which
    pattern matched is found afterwards, for the hits only, and remembered per matched text.
    """

    def __init__(self, table: list[tuple[str, str | None, str]]) -> None:
        # table rows: (kind, value or None to use the matched text, lowercase pattern)
        self._rows = [(kind, value, re.compile(pattern)) for kind, value, pattern in table]
        alternation = grouped_alternation([pattern for _, _, pattern in table])
        self._regex = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
        self._row_of: dict[str, tuple[str, str | None]] = {}
        # The indicator and context components ask about the same text one after the other.
        self._last: tuple[str | None, list[KeywordHit]] = (None, [])

    def find(self, text: str, lower: str | None = None) -> Iterator[KeywordHit]:
        """Yield the cues in `text` (`lower` is its lowercase(), if already made), no overlaps."""
        last_text, hits = self._last  # one tuple: threads sharing the matcher see a pair
        if last_text is not text:
            hits = self._find(lowercase(text) if lower is None else lower)
            self._last = (text, hits)
        return iter(hits)

    def _find(self, lower: str) -> list[KeywordHit]:
        hits: list[KeywordHit] = []
        for match in self._regex.finditer(lower):
            found = match.group()
            row = self._row_of.get(found)
            if row is None:
                row = self._classify(found)
            if row[0]:
                hits.append(KeywordHit(match.start(), match.end(), row[0], row[1] or found))
        return hits

    def _classify(self, found: str) -> tuple[str, str | None]:
        # Matched strings repeat from text to text: remember which row each one is.
        row: tuple[str, str | None] = ("", None)
        for kind, value, pattern in self._rows:
            if pattern.fullmatch(found):
                row = (kind, value)
                break
        if len(self._row_of) >= _ROW_CACHE_LIMIT:
            self._row_of.clear()
        self._row_of[found] = row
        return row


class KindFilter:
    """The hits of a shared KeywordMatcher whose kind is one of `kinds`."""

    def __init__(self, matcher: KeywordMatcher, kinds: Iterable[str]) -> None:
        self.matcher = matcher
        self.kinds = frozenset(kinds)

    def find(self, text: str, lower: str | None = None) -> Iterator[KeywordHit]:
        """Yield the cues of these kinds in `text`."""
        return (h for h in self.matcher.find(text, lower) if h.kind in self.kinds)


@dataclass(frozen=True, slots=True)
class Cues:
    """The compiled keyword cues: indicator keywords and context cues, found in one pass."""

    indicators: KindFilter
    context: KindFilter


def _check(source: str, where: str, pattern: object) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise NlpDataError(source, f"{where}: patterns must be non-empty strings")
    if not (pattern[0].isalnum() or pattern.startswith("(?:")):
        raise NlpDataError(source, f"{where}: {pattern!r} must start with a letter or digit")
    if _by_first_character(pattern) is None:
        # One such pattern keeps the whole alternation from being grouped by first letter:
        # every cue then costs five times as much.
        raise NlpDataError(
            source,
            f"{where}: {pattern!r} must start with a letter, a digit or a (?:...) group "
            "whose every alternative does",
        )
    if any(c.isupper() for c in re.sub(r"\\.", "", pattern)):
        raise NlpDataError(source, f"{where}: {pattern!r} must be lowercase (case is ignored)")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise NlpDataError(source, f"{where}: bad regex {pattern!r}: {exc}") from None
    if compiled.groups:
        raise NlpDataError(source, f"{where}: use (?:...) not capturing groups in {pattern!r}")
    return pattern


def parse_cues(raw: str, source: str) -> Cues:
    """Parse and validate cues TOML; `source` names the file in errors."""
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise NlpDataError(source, f"invalid TOML: {exc}") from None
    unknown = set(data) - {"indicators", "context"}
    if unknown:
        raise NlpDataError(source, f"unknown section(s) {sorted(unknown)}")
    indicator_rows: list[tuple[str, str | None, str]] = []
    for kind, values in data.get("indicators", {}).items():
        if kind not in INDICATOR_KINDS:
            raise NlpDataError(source, f"[indicators.{kind}]: unknown indicator kind")
        if not isinstance(values, dict):
            raise NlpDataError(source, f"[indicators.{kind}] must be a table of value = [...]")
        for value, patterns in values.items():
            if not isinstance(patterns, list):
                raise NlpDataError(source, f"[indicators.{kind}] {value}: expected a list")
            for pattern in patterns:
                where = f"[indicators.{kind}] {value}"
                indicator_rows.append((kind, value, _check(source, where, pattern)))
    context_rows: list[tuple[str, str | None, str]] = []
    for kind, patterns in data.get("context", {}).items():
        if kind not in CONTEXT_KINDS:
            raise NlpDataError(source, f"[context] {kind}: unknown context kind")
        if not isinstance(patterns, list):
            raise NlpDataError(source, f"[context] {kind}: expected a list")
        for pattern in patterns:
            context_rows.append((kind, None, _check(source, f"[context] {kind}", pattern)))
    matcher = KeywordMatcher(indicator_rows + context_rows)
    return Cues(
        indicators=KindFilter(matcher, INDICATOR_KINDS), context=KindFilter(matcher, CONTEXT_KINDS)
    )


@lru_cache(maxsize=8)
def load_cues(path: str = "") -> Cues:
    """Load the cues shipped in `nlp/data/cues.toml`, or the file at `path`."""
    if path:
        with open(path, encoding="utf-8") as handle:
            return parse_cues(handle.read(), path)
    resource = files("nlp") / "data" / "cues.toml"
    return parse_cues(resource.read_text(encoding="utf-8"), str(resource))
