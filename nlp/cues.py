"""Keyword cues from `nlp/data/cues.toml`, compiled into one regex per family."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from nlp.analysis import CONTEXT_KINDS, INDICATOR_KINDS
from nlp.errors import NlpDataError


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


class KeywordMatcher:
    """Find many (kind, value, pattern) cues in one pass of one alternation.

    The alternation has no groups and runs without IGNORECASE on lowercased text behind a
    leading word boundary: the regex engine then skips most positions, five times faster than
    named groups with IGNORECASE. Which pattern matched is found afterwards, for the hits only.
    """

    def __init__(self, table: list[tuple[str, str | None, str]]) -> None:
        # table rows: (kind, value or None to use the matched text, lowercase pattern)
        self._rows = [(kind, value, re.compile(pattern)) for kind, value, pattern in table]
        alternation = "|".join(pattern for _, _, pattern in table) or "(?!)"
        self._regex = re.compile(rf"\b(?:{alternation})(?!\w)")

    def find(self, text: str, lower: str | None = None) -> Iterator[KeywordHit]:
        """Yield the cues in `text` (`lower` is its lowercase(), if already made), no overlaps."""
        lower = lowercase(text) if lower is None else lower
        for match in self._regex.finditer(lower):
            found = match.group()
            for kind, value, pattern in self._rows:
                if pattern.fullmatch(found):
                    yield KeywordHit(match.start(), match.end(), kind, value or found)
                    break


@dataclass(frozen=True, slots=True)
class Cues:
    """The compiled keyword cues: indicator keywords and context cues."""

    indicators: KeywordMatcher
    context: KeywordMatcher


def _check(source: str, where: str, pattern: object) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise NlpDataError(source, f"{where}: patterns must be non-empty strings")
    if not (pattern[0].isalnum() or pattern.startswith("(?:")):
        raise NlpDataError(source, f"{where}: {pattern!r} must start with a letter or digit")
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
    return Cues(indicators=KeywordMatcher(indicator_rows), context=KeywordMatcher(context_rows))


@lru_cache(maxsize=8)
def load_cues(path: str = "") -> Cues:
    """Load the cues shipped in `nlp/data/cues.toml`, or the file at `path`."""
    if path:
        with open(path, encoding="utf-8") as handle:
            return parse_cues(handle.read(), path)
    resource = files("nlp") / "data" / "cues.toml"
    return parse_cues(resource.read_text(encoding="utf-8"), str(resource))
