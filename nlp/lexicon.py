"""Load and validate the substance lexicon (`nlp/data/lexicon.jsonl`)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from nlp.analysis import CLASSES
from nlp.errors import NlpDataError

TERM_KINDS: tuple[str, ...] = ("name", "synonym", "misspelling", "street_name")

# How sure a hit of each term kind is that the concept is meant; street names are often
# ordinary words ("blues"), so they count for less.
TERM_CONFIDENCE: dict[str, float] = {
    "name": 1.0,
    "synonym": 1.0,
    "misspelling": 0.9,
    "street_name": 0.8,
}

_FIELDS = {
    "id",
    "name",
    "class",
    "control",
    "cas",
    "synonyms",
    "street_names",
    "misspellings",
    "ambiguous",
    "pill_names",
}
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CAS = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")
_WORD = re.compile(r"[a-z0-9]+")


def cas_is_valid(cas: str) -> bool:
    """Return whether `cas` is a well-formed CAS Registry Number with a correct check digit."""
    match = _CAS.match(cas)
    if match is None:
        return False
    digits = match.group(1) + match.group(2)
    total = sum(i * int(d) for i, d in enumerate(reversed(digits), start=1))
    return total % 10 == int(match.group(3))


def term_key(term: str) -> str:
    """Return the separator-free lowercase form under which a term must be unique."""
    return "".join(_WORD.findall(term.lower()))


@dataclass(frozen=True, slots=True)
class Concept:
    """One substance of the lexicon."""

    id: str
    name: str
    substance_class: str
    control: str
    cas: tuple[str, ...]
    synonyms: tuple[str, ...]
    street_names: tuple[str, ...]
    misspellings: tuple[str, ...]
    # Street names that are also ordinary words ("blues", "crack", "spice"): they name the
    # substance only where the text names a substance otherwise too (nlp.mentions).
    ambiguous: tuple[str, ...] = ()
    # Ambiguous street names that are a pill's stamp ("Maserati", "Tesla", "Hulk") or a short
    # code ("DOC"): they count only beside a dose or a pill count, never on a grade alone.
    pill_names: tuple[str, ...] = ()

    def terms(self) -> Iterator[tuple[str, str]]:
        """Yield (term, term kind) for every surface form of the concept."""
        yield self.name, "name"
        for kind, terms in (
            ("synonym", self.synonyms),
            ("misspelling", self.misspellings),
            ("street_name", self.street_names),
        ):
            for term in terms:
                yield term, kind


@dataclass(frozen=True, slots=True)
class Lexicon:
    """The concepts, indexed by id and CAS number."""

    source: str
    concepts: tuple[Concept, ...]
    by_id: dict[str, Concept]
    by_cas: dict[str, Concept]

    def __len__(self) -> int:
        return len(self.concepts)

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts)

    def __getitem__(self, concept_id: str) -> Concept:
        return self.by_id[concept_id]

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self.by_id

    def vocabulary(self) -> frozenset[str]:
        """Return every lowercase word of every term, and every term with separators removed."""
        words: set[str] = set()
        for concept in self.concepts:
            for term, _ in concept.terms():
                words.update(_WORD.findall(term.lower()))
                words.add(term_key(term))
        return frozenset(words)


def _text(row: dict[str, object], field: str, path: str, line: int, *, empty: bool) -> str:
    value = row.get(field, "" if empty else None)
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise NlpDataError(path, f"field {field!r} must be a non-empty string", line)
    return value.strip()


def _texts(row: dict[str, object], field: str, path: str, line: int) -> tuple[str, ...]:
    value = row.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise NlpDataError(path, f"field {field!r} must be a list of non-empty strings", line)
    return tuple(v.strip() for v in value)


def _concept(row: object, path: str, line: int) -> Concept:
    if not isinstance(row, dict):
        raise NlpDataError(path, "each line must be a JSON object", line)
    unknown = set(row) - _FIELDS
    if unknown:
        raise NlpDataError(path, f"unknown field(s) {sorted(unknown)}", line)
    concept_id = _text(row, "id", path, line, empty=False)
    if not _ID.match(concept_id):
        raise NlpDataError(
            path, f"id {concept_id!r} must be lowercase letters/digits joined by '-'", line
        )
    substance_class = _text(row, "class", path, line, empty=False)
    if substance_class not in CLASSES:
        raise NlpDataError(path, f"{concept_id}: unknown class {substance_class!r}", line)
    cas = _texts(row, "cas", path, line)
    for number in cas:
        if not cas_is_valid(number):
            raise NlpDataError(
                path, f"{concept_id}: CAS number {number!r} fails its format or check digit", line
            )
    street_names = _texts(row, "street_names", path, line)
    ambiguous = _texts(row, "ambiguous", path, line)
    unknown_terms = {term_key(t) for t in ambiguous} - {term_key(t) for t in street_names}
    if unknown_terms:
        raise NlpDataError(
            path,
            f"{concept_id}: ambiguous terms must be street names: {sorted(unknown_terms)}",
            line,
        )
    pill_names = _texts(row, "pill_names", path, line)
    unknown_pills = {term_key(t) for t in pill_names} - {term_key(t) for t in ambiguous}
    if unknown_pills:
        raise NlpDataError(
            path,
            f"{concept_id}: pill names must be ambiguous street names: {sorted(unknown_pills)}",
            line,
        )
    return Concept(
        id=concept_id,
        name=_text(row, "name", path, line, empty=False),
        substance_class=substance_class,
        control=_text(row, "control", path, line, empty=True),
        cas=cas,
        synonyms=_texts(row, "synonyms", path, line),
        street_names=street_names,
        misspellings=_texts(row, "misspellings", path, line),
        ambiguous=ambiguous,
        pill_names=pill_names,
    )


def parse_lexicon(text: str, source: str) -> Lexicon:
    """Parse and validate JSONL lexicon text; `source` names the file in errors."""
    concepts: list[Concept] = []
    by_id: dict[str, Concept] = {}
    by_cas: dict[str, Concept] = {}
    term_owner: dict[str, tuple[str, int]] = {}
    id_line: dict[str, int] = {}
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise NlpDataError(source, f"invalid JSON: {exc.msg}", line_no) from None
        concept = _concept(row, source, line_no)
        if concept.id in by_id:
            raise NlpDataError(
                source,
                f"duplicate id {concept.id!r} (first on line {id_line[concept.id]})",
                line_no,
            )
        for number in concept.cas:
            if number in by_cas:
                raise NlpDataError(
                    source, f"CAS {number} already belongs to {by_cas[number].id!r}", line_no
                )
            by_cas[number] = concept
        for term, _ in concept.terms():
            key = term_key(term)
            if not key:
                raise NlpDataError(source, f"{concept.id}: term {term!r} has no letters", line_no)
            owner = term_owner.setdefault(key, (concept.id, line_no))
            if owner[0] != concept.id:
                raise NlpDataError(
                    source,
                    f"{concept.id}: term {term!r} also names {owner[0]!r} (line {owner[1]})",
                    line_no,
                )
        by_id[concept.id] = concept
        id_line[concept.id] = line_no
        concepts.append(concept)
    if not concepts:
        raise NlpDataError(source, "the lexicon is empty")
    return Lexicon(source=source, concepts=tuple(concepts), by_id=by_id, by_cas=by_cas)


@lru_cache(maxsize=8)
def _load(path: str) -> Lexicon:
    if path:
        with open(path, encoding="utf-8") as handle:
            return parse_lexicon(handle.read(), path)
    resource = files("nlp") / "data" / "lexicon.jsonl"
    return parse_lexicon(resource.read_text(encoding="utf-8"), str(resource))


def load_lexicon(path: str | os.PathLike[str] | None = None) -> Lexicon:
    """Load the lexicon shipped in `nlp/data`, or the one at `path`; cached per path."""
    return _load(os.fspath(path) if path is not None else "")
