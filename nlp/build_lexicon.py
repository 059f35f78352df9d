"""Regenerate `nlp/data/lexicon.jsonl` from public substance lists plus our curated overrides.

    python -m nlp.build_lexicon --sources ../shared/data/lexicon_sources [--words FILE]

Reads (with `nlp.lexicon_sources`) the DEA's eCFR XML of 21 CFR 1308.11-1308.15 and 1310.02,
the INCB Yellow, Green and Red lists, PubChem synonyms (for CAS numbers), Wikipedia's list of
designer drugs and the DEA slang list, as laid out under `--sources`; merges them with
`nlp/data/lexicon_overrides.toml`, and writes the lexicon and `nlp/data/fuzzy_guard.txt`
(dictionary words one edit away from a substance name, which fuzzy matching must never take for
it). The pipeline never imports this module: it reads only the files it writes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nlp.analysis import CLASSES
from nlp.fuzzy import FUZZY_MIN_LENGTH, deletions
from nlp.lexicon import cas_is_valid, parse_lexicon, term_key
from nlp.lexicon_sources import (
    MIN_KEY,
    PROSE,
    Listed,
    read_ecfr,
    read_incb,
    read_pubchem_cas,
    read_slang,
    read_tripsit,
    read_wikipedia,
    slug,
)

DATA = Path(__file__).resolve().parent / "data"
_MAX_ABBREVIATION = 3
# Lists of drugs only (no chemicals, no plants in general use), whose long single-word names
# are drug names even where a dictionary has the word.
_DRUG_LISTS = frozenset({"tripsit"})
_MIN_DRUG_WORD = 9


@dataclass
class Draft:
    """A lexicon concept being assembled."""

    id: str
    name: str
    substance_class: str
    control: list[str]
    cas: list[str]
    synonyms: list[str]
    street_names: list[str]
    misspellings: list[str]
    curated: bool
    ambiguous: list[str] = field(default_factory=list)
    pill_names: list[str] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        extra: dict[str, object] = {"ambiguous": self.ambiguous} if self.ambiguous else {}
        if self.pill_names:
            extra["pill_names"] = self.pill_names
        return {
            "id": self.id,
            "name": self.name,
            "class": self.substance_class,
            "control": "; ".join(self.control),
            "cas": self.cas,
            "synonyms": self.synonyms,
            "street_names": self.street_names,
            "misspellings": self.misspellings,
            **extra,
        }


class Builder:
    """Merge listed substances into curated concepts, classify, and resolve term conflicts."""

    def __init__(self, overrides: dict[str, object], words: frozenset[str]) -> None:
        self.overrides = overrides
        self.words = words
        excluded = overrides.get("exclude", {})
        assert isinstance(excluded, dict)
        self.excluded_names = {term_key(n) for n in excluded.get("names", [])}
        self.excluded_terms = {term_key(n) for n in excluded.get("terms", [])}
        rules = overrides.get("class_rule", [])
        assert isinstance(rules, list)
        self.rules = [
            (re.compile(r["pattern"]), r["class"], tuple(r.get("sources", ()))) for r in rules
        ]
        section_class = overrides.get("section_class", {})
        assert isinstance(section_class, dict)
        self.section_class: dict[str, str] = section_class
        self.drafts: list[Draft] = []
        self.owner: dict[str, Draft] = {}  # term key -> concept that owns it
        self.skipped: list[str] = []
        for entry in overrides.get("concept", []):  # type: ignore[attr-defined]
            self._add_curated(entry)
        medicines = overrides.get("medicines", {})
        assert isinstance(medicines, dict)
        for name, brands in medicines.items():
            if term_key(name) not in self.owner:
                self._add_curated(
                    {"id": slug(name), "name": name, "class": "other_drug", "synonyms": brands}
                )

    def _add_curated(self, entry: dict[str, object]) -> None:
        def strings(key: str) -> list[str]:
            value = entry.get(key, [])
            assert isinstance(value, list)
            return [str(v) for v in value]

        control = str(entry.get("control", ""))
        draft = Draft(
            id=str(entry["id"]),
            name=str(entry["name"]),
            substance_class=str(entry["class"]),
            control=[c.strip() for c in control.split(";") if c.strip()],
            cas=strings("cas"),
            synonyms=[],
            street_names=[],
            misspellings=[],
            curated=True,
        )
        self.drafts.append(draft)
        self._own(draft, draft.name)
        for kind in ("synonyms", "street_names", "misspellings"):
            for term in strings(kind):
                if self._own(draft, term):
                    getattr(draft, kind).append(term)

    def _own(self, draft: Draft, term: str) -> bool:
        key = term_key(term)
        if len(key) < MIN_KEY and not draft.curated:
            return False
        owner = self.owner.setdefault(key, draft)
        return owner is draft and term.lower() not in {
            t.lower() for t in (draft.name, *draft.synonyms, *draft.street_names)
        }

    def classify(self, listed: Listed) -> tuple[str, bool] | None:
        """Return the class of a listed substance and whether a rule gave it, or None."""
        text = " | ".join([listed.name, *listed.synonyms]).lower()
        family = listed.source.split(":")[0]
        for pattern, substance_class, sources in self.rules:
            if sources and not any(
                listed.source == s or family == s or listed.source.startswith(s + ":")
                for s in sources
            ):
                continue
            if pattern.search(text):
                return substance_class, True
        fallback = self.section_class.get(listed.source)
        return (fallback, False) if fallback else None

    def usable(self, term: str) -> bool:
        """Return whether a term from a list may name a concept in listing text."""
        key = term_key(term)
        if len(key) < MIN_KEY or key in self.excluded_terms or key.isdigit():
            return False
        if key.isalpha() and len(key) <= _MAX_ABBREVIATION:
            return False  # "DOC", "MET", "BOB": too often something else
        # A single ordinary word ("nexus", "flea") is no evidence of a substance.
        return not (term.replace("-", "").isalpha() and term.lower() in self.words)

    def _drug_word(self, name: str, listed: Listed, *, by_rule: bool) -> bool:
        """Return whether a dictionary word a list names is a drug's name all the same.

        A rule's pattern vouches for names of six letters on ("heroin", "cocaine"); a drug
        list's own single words must be long to be unmistakable ("fluoxetine", but not
        "salvia", "truffles" or "caffeine").
        """
        if not name.isalpha():
            return False
        if by_rule:
            return len(name) > 5
        return listed.source in _DRUG_LISTS and len(name) >= _MIN_DRUG_WORD

    def add(self, listed: Listed) -> None:
        """Merge a listed substance into the concept it names, or make a new concept."""
        keys = [term_key(t) for t in (listed.name, *listed.synonyms)]
        if term_key(listed.name) in self.excluded_names:
            return
        existing = next((self.owner[k] for k in keys if k in self.owner), None)
        if existing is None:
            classified = self.classify(listed)
            if classified is None:
                self.skipped.append(f"{listed.source}: {listed.name}")
                return
            substance_class, by_rule = classified
            if substance_class not in CLASSES:
                raise ValueError(f"class rule gives unknown class {substance_class!r}")
            name = listed.name.strip(" ,.;")
            if PROSE.search(name) or re.match(r"\d{2,7}-\d{2}-\d", name):
                self.skipped.append(f"{listed.source}: {listed.name} (not a name)")
                return
            if not self.usable(name) and not self._drug_word(name, listed, by_rule=by_rule):
                name = next((t for t in listed.synonyms if self.usable(t)), "")
            concept_id = slug(name)
            if not concept_id or any(d.id == concept_id for d in self.drafts):
                self.skipped.append(f"{listed.source}: {listed.name} (no usable name or id)")
                return
            existing = Draft(
                id=concept_id,
                name=name,
                substance_class=substance_class,
                control=[],
                cas=[],
                synonyms=[],
                street_names=[],
                misspellings=[],
                curated=False,
            )
            self.drafts.append(existing)
            self._own(existing, name)
        if listed.control and listed.control not in existing.control and not existing.curated:
            existing.control.append(listed.control)
        for term in [listed.name, *listed.synonyms]:
            if self.usable(term) and self._own(existing, term):
                existing.synonyms.append(term)
        for number in listed.cas:
            self.add_cas(existing, number)

    def add_cas(self, draft: Draft, number: str) -> None:
        """Give a concept a CAS number unless it is invalid or already another's."""
        if not cas_is_valid(number) or number in draft.cas:
            return
        if any(number in d.cas for d in self.drafts):
            return
        draft.cas.append(number)

    def add_street_names(self, slang: dict[str, list[str]]) -> None:
        """Add the street names the overrides keep from the DEA slang list."""
        chosen = self.overrides.get("slang", {})
        assert isinstance(chosen, dict)
        by_id = {d.id: d for d in self.drafts}
        for heading, entry in chosen.items():
            draft = by_id.get(entry["concept"])
            if draft is None:
                raise ValueError(f"[slang.{heading!r}]: no concept {entry['concept']!r}")
            listed = {term_key(n): n for n in slang.get(heading, [])}
            for name in entry["keep"]:
                if term_key(name) not in listed:
                    raise ValueError(f"[slang.{heading!r}]: {name!r} is not in the DEA list")
                if self._own(draft, name):
                    draft.street_names.append(name)

    def mark_ambiguous(self, extra: Iterable[str], clear: Iterable[str]) -> None:
        """Mark street names that are single dictionary words, or in `extra`, as ambiguous;
        those in `clear` never."""
        listed = {term_key(t) for t in extra}
        cleared = {term_key(t) for t in clear}
        for draft in self.drafts:
            draft.ambiguous = [
                t
                for t in draft.street_names
                if term_key(t) not in cleared
                and (term_key(t) in listed or (" " not in t and t.lower() in self.words))
            ]

    def add_pill_names(self, names: dict[str, list[str]]) -> None:
        """Add pill stamps and codes (`[pill_names]`) as ambiguous street names that need a
        dose or a pill count."""
        by_id = {d.id: d for d in self.drafts}
        for concept_id, terms in names.items():
            draft = by_id.get(concept_id)
            if draft is None:
                raise ValueError(f"[pill_names]: no concept {concept_id!r}")
            for term in terms:
                if self._own(draft, term):
                    draft.street_names.append(term)
                elif self.owner[term_key(term)] is not draft:
                    raise ValueError(f"[pill_names] {concept_id}: {term!r} names another concept")
                if term not in draft.ambiguous:
                    draft.ambiguous.append(term)
                draft.pill_names.append(term)

    def concepts(self) -> list[Draft]:
        """Return the concepts, curated first, then by class and id."""
        curated = [d for d in self.drafts if d.curated]
        listed = sorted(
            (d for d in self.drafts if not d.curated),
            key=lambda d: (CLASSES.index(d.substance_class), d.id),
        )
        return curated + listed


def fuzzy_guard(lexicon_terms: Iterable[str], words: Iterable[str]) -> list[str]:
    """Return dictionary words within one edit of a term long enough for fuzzy matching."""
    index: dict[str, set[str]] = {}
    terms = {term_key(t) for t in lexicon_terms}
    for key in terms:
        if len(key) >= FUZZY_MIN_LENGTH and key.isalpha():
            for variant in deletions(key):
                index.setdefault(variant, set()).add(key)
    guard = set()
    for word in words:
        lower = word.lower()
        if not lower.isalpha() or len(lower) < FUZZY_MIN_LENGTH - 1 or lower in terms:
            continue
        if lower.endswith("s") and lower[:-1] in terms:
            continue  # "ketamines" is ketamine
        if any(variant in index for variant in deletions(lower)):
            guard.add(lower)
    return sorted(guard)


def read_words(path: Path | None) -> frozenset[str]:
    """Read a dictionary word list (one word a line), lowercased; empty without a path."""
    if path is None:
        return frozenset()
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and "'" not in w)


def build(sources: Path, overrides_path: Path, words: frozenset[str]) -> Builder:
    """Build the concepts from the lists under `sources` and the overrides."""
    overrides = tomllib.loads(overrides_path.read_text(encoding="utf-8"))
    builder = Builder(overrides, words)
    chemnet = sources / "holocron_chemnet"
    for section in ("1308.11", "1308.12", "1308.13", "1308.14", "1308.15", "1310.02"):
        path = chemnet / "raw_dea" / f"ecfr_{section.replace('.', '_')}.xml"
        for listed in read_ecfr(path, section):
            builder.add(listed)
    for listed in read_incb(chemnet / "csv"):
        builder.add(listed)
    for listed in read_wikipedia(chemnet / "csv"):
        builder.add(listed)
    for listed in read_tripsit(sources / "tripsit" / "drugs.json"):
        builder.add(listed)
    cas_by_key = read_pubchem_cas(chemnet / "csv")
    for draft in builder.drafts:
        if draft.cas:
            continue
        for term in (draft.name, *draft.synonyms):
            numbers = cas_by_key.get(term_key(term), set())
            if len(numbers) == 1:
                builder.add_cas(draft, next(iter(numbers)))
                break
    builder.add_street_names(read_slang(sources / "DOPE_cran" / "slangUE.txt"))
    excluded = overrides.get("exclude", {})
    builder.mark_ambiguous(
        excluded.get("ambiguous_street_names", []), excluded.get("unambiguous_street_names", [])
    )
    builder.add_pill_names(overrides.get("pill_names", {}))
    return builder


def main(argv: list[str] | None = None) -> int:
    """Regenerate the lexicon and the fuzzy-matching guard; print what was left out."""
    parser = argparse.ArgumentParser(prog="python -m nlp.build_lexicon", description=__doc__)
    parser.add_argument("--sources", type=Path, required=True, help="the lexicon_sources folder")
    parser.add_argument("--overrides", type=Path, default=DATA / "lexicon_overrides.toml")
    parser.add_argument(
        "--words",
        type=Path,
        help="a dictionary word list, e.g. /usr/share/dict/american-english-huge",
    )
    parser.add_argument("--out", type=Path, default=DATA / "lexicon.jsonl")
    parser.add_argument("--guard", type=Path, default=DATA / "fuzzy_guard.txt")
    parser.add_argument("-v", "--verbose", action="store_true", help="list what was skipped")
    args = parser.parse_args(argv)
    words = read_words(args.words)
    builder = build(args.sources, args.overrides, words)
    lines = [json.dumps(d.row(), ensure_ascii=False) for d in builder.concepts()]
    text = "\n".join(lines) + "\n"
    lexicon = parse_lexicon(text, str(args.out))  # refuse to write a lexicon that won't load
    args.out.write_text(text, encoding="utf-8")
    if words:
        terms = [t for c in lexicon for t, _ in c.terms()]
        extra = tomllib.loads(args.overrides.read_text(encoding="utf-8"))["exclude"]
        guard = sorted(set(fuzzy_guard(terms, words)) | set(extra.get("fuzzy_guard", [])))
        header = (
            "# Generated by nlp.build_lexicon: dictionary words one edit from a substance name.\n"
        )
        args.guard.write_text(header + "\n".join(guard) + "\n", encoding="utf-8")
    if args.verbose:
        for line in builder.skipped:
            print(f"skipped {line}", file=sys.stderr)
    counts: dict[str, int] = {}
    for concept in lexicon:
        counts[concept.substance_class] = counts.get(concept.substance_class, 0) + 1
    print(f"{len(lexicon)} concepts written to {args.out}")
    for substance_class in CLASSES:
        print(f"  {substance_class:<25} {counts.get(substance_class, 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
