"""Turn the lexicon into span_ruler patterns, and load the analogue suffixes."""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

from nlp.errors import NlpDataError
from nlp.lexicon import TERM_KINDS, Lexicon

_SEPARATORS = re.compile(r"[\s\-]+")
# Joined forms shorter than this keep their hyphen: "4 ap" is too common to mean 4-AP.
_MIN_SPACED_COMPACT = 4
# Joined spellings that mean something else far more often ("2FA" is two-factor login).
_NOT_JOINED = frozenset({"2fa"})
# Terms with more gaps than this get only the all-joined, all-space and all-hyphen variants.
_MAX_SEPARATOR_GAPS = 3
# Unlisted analogues need a real prefix ("ortho-methylfentanyl", not "fentanyl").
MIN_ANALOGUE_PREFIX = 3


def term_variants(term: str) -> set[str]:
    """Return the lowercase spellings of a term with each gap a hyphen, a space or nothing."""
    lower = term.lower().strip()
    parts = [p for p in _SEPARATORS.split(lower) if p]
    if len(parts) < 2:
        return {lower}
    compact = "".join(parts)
    separators = ["", " ", "-"] if len(compact) >= _MIN_SPACED_COMPACT else ["", "-"]
    gaps = len(parts) - 1
    if gaps > _MAX_SEPARATOR_GAPS:
        combinations: list[tuple[str, ...]] = [(s,) * gaps for s in separators]
    else:
        combinations = list(itertools.product(separators, repeat=gaps))
    variants = set()
    for combination in combinations:
        pieces = [parts[0]]
        for separator, part in zip(combination, parts[1:], strict=True):
            pieces.extend((separator, part))
        variants.add("".join(pieces))
    return variants - _NOT_JOINED


def lexicon_patterns(lexicon: Lexicon) -> list[dict[str, Any]]:
    """Return span_ruler phrase patterns: label = term kind, id = concept id."""
    best: dict[tuple[str, str], str] = {}
    for concept in lexicon:
        for term, kind in concept.terms():
            for variant in term_variants(term):
                key = (variant, concept.id)
                current = best.get(key)
                if current is None or TERM_KINDS.index(kind) < TERM_KINDS.index(current):
                    best[key] = kind
    return [
        {"label": kind, "pattern": variant, "id": concept_id}
        for (variant, concept_id), kind in sorted(best.items())
    ]


@dataclass(frozen=True, slots=True)
class Analogue:
    """Words ending in one of `suffixes`, or matching one of `patterns`, name an unlisted
    member of `concept_id`'s family."""

    concept_id: str
    suffixes: tuple[str, ...]
    patterns: tuple[str, ...] = ()
    anchor: str = ""  # a cheap regex found in every match of `patterns`


@lru_cache(maxsize=8)
def load_analogues(path: str = "") -> tuple[Analogue, ...]:
    """Load analogue suffixes from `nlp/data/analogues.toml` or `path`."""
    if path:
        source = path
        with open(path, "rb") as handle:
            raw = handle.read().decode("utf-8")
    else:
        resource = files("nlp") / "data" / "analogues.toml"
        source = str(resource)
        raw = resource.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise NlpDataError(source, f"invalid TOML: {exc}") from None
    entries = data.get("analogue")
    if not isinstance(entries, list) or not entries:
        raise NlpDataError(source, "expected one or more [[analogue]] tables")
    analogues: list[Analogue] = []
    for number, entry in enumerate(entries, start=1):
        concept_id = entry.get("concept") if isinstance(entry, dict) else None
        suffixes = entry.get("suffixes", []) if isinstance(entry, dict) else None
        patterns = entry.get("patterns", []) if isinstance(entry, dict) else None
        anchor = entry.get("anchor", "") if isinstance(entry, dict) else ""
        if not isinstance(anchor, str):
            raise NlpDataError(source, f"[[analogue]] #{number}: anchor must be a regex string")
        if (
            not isinstance(concept_id, str)
            or not isinstance(suffixes, list)
            or not isinstance(patterns, list)
            or not (suffixes or patterns)
        ):
            raise NlpDataError(
                source, f"[[analogue]] #{number} needs 'concept' and 'suffixes' or 'patterns'"
            )
        if not all(isinstance(s, str) and s.isalpha() and s.islower() for s in suffixes):
            raise NlpDataError(source, f"[[analogue]] #{number}: suffixes must be lowercase words")
        for pattern in patterns:
            try:
                compiled = re.compile(pattern) if isinstance(pattern, str) else None
            except re.error as exc:
                raise NlpDataError(source, f"[[analogue]] #{number}: bad regex: {exc}") from None
            if compiled is None or compiled.groups or pattern.lower() != pattern:
                raise NlpDataError(
                    source, f"[[analogue]] #{number}: patterns must be lowercase, no groups"
                )
        analogues.append(
            Analogue(
                concept_id=concept_id,
                suffixes=tuple(suffixes),
                patterns=tuple(patterns),
                anchor=anchor,
            )
        )
    return tuple(analogues)
