"""Read the public substance lists the lexicon is built from: the DEA's eCFR XML, the INCB lists,
Wikipedia's list of designer drugs, TripSit's drug list, PubChem synonyms (CAS numbers) and the
DEA slang list.

A maintenance module of `nlp.build_lexicon`: the pipeline never imports it."""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nlp.lexicon import cas_is_valid, term_key

MAX_TERM = 90
MIN_KEY = 3
_SCHEDULES = {"1308.11": "I", "1308.12": "II", "1308.13": "III", "1308.14": "IV", "1308.15": "V"}


_NUMBERING = re.compile(r"^\s*\((?:\d+|[A-Z]{1,2}|[ivxl]+)\)\s*")


_QUALIFIERS = re.compile(
    r",?\s*(?:and\s+)?(?:its|their)\s+(?:optical|geometric|isomers|salts|esters|ethers|amides"
    r"|carbamates|halides|acetals)\b.*?(?=\s\(|$)",
    re.I,
)


_ALIAS_PREFIX = re.compile(
    r"^(?:some\s+)?(?:trade\s+or\s+)?(?:other\s+names?(?:\s+include)?|also\s+known\s+as|another"
    r"\s+name\s+for\s+[\w-]+|other\s+name)\s*:?\s*",
    re.I,
)


_SYSTEMATIC = re.compile(r"[(\[{]|\d,\d|\d-yl|-yl\b|amine\b.*\d|\bN,N")


# Words of a sentence, not of a substance's name ("Cocaine at low doses", "compounds of these").
PROSE = re.compile(r"\b(?:of|or|at|these|those|doses?|compounds?|analog|analogue|and)\b", re.I)


_CAS_NAME = re.compile(r"^\d{2,7}-\d{1,2}-\d$")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Windows-1252 ("Â§" for "§"), which the eCFR scrape suffered."""

    def undo(match: re.Match[str]) -> str:
        run = match.group()
        try:
            raw = bytes(ord(c) if ord(c) < 256 else c.encode("cp1252")[0] for c in run)
            return raw.decode("utf-8")
        except (UnicodeError, ValueError):
            return run

    return re.sub(r"[\u0080-\uffff]+", undo, text)


@dataclass
class Listed:
    """A substance as one public list names it."""

    name: str
    synonyms: list[str]
    source: str  # list section, e.g. "1308.11(b)", "incb-green:IV", "wikipedia:Tryptamines"
    control: str = ""
    cas: list[str] = field(default_factory=list)


def slug(name: str) -> str:
    """Return a lexicon id for a name: lowercase ASCII words joined by '-'."""
    name = name.lower().replace("\u03b1", "alpha").replace("β", "beta").replace("\u2032", "")
    return "-".join(re.findall(r"[a-z0-9]+", name))


def is_systematic(term: str) -> bool:
    """Return whether a term looks like a systematic (IUPAC-style) chemical name."""
    return len(term) > 40 or bool(_SYSTEMATIC.search(term))


def _split_annotation(text: str) -> tuple[str, list[str]]:
    """Split "Name (alias; other names: a, b)" into the head and the aliases."""
    head: list[str] = []
    groups: list[str] = []
    depth = 0
    current: list[str] = []
    for i, ch in enumerate(text):
        if depth == 0 and ch in "([" and (i == 0 or text[i - 1] == " "):
            depth = 1
            current = []
            continue
        if depth:
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
                if depth == 0:
                    groups.append("".join(current))
                    continue
            current.append(ch)
        else:
            head.append(ch)
    if depth:
        groups.append("".join(current))
    aliases: list[str] = []
    for group in groups:
        for part in re.split(r";|,\s+(?![\d,])|\s+or\s+|\s+and\s+(?=[A-Z0-9])", group):
            part = _ALIAS_PREFIX.sub("", part.strip(' .,;:"“”')).strip(' .,;:"“”')
            part = re.sub(r"^(?:or|and)\s+", "", part)
            if part and not re.match(r"(?:except|including|whether|see|in)\b", part, re.I):
                aliases.append(part)
    return " ".join("".join(head).split()).strip(" ,;."), aliases


def parse_entry(raw: str, source: str, control: str) -> Listed | None:
    """Turn one eCFR table cell into a Listed substance, or None for headings and notes."""
    text = " ".join(_NUMBERING.sub("", raw).split())
    if not text or "[Reserved]" in text or len(text) > 400:
        return None
    text = _QUALIFIERS.sub("", text).strip(" ;,.")
    text = re.sub(r"\s+and$", "", text)
    head, aliases = _split_annotation(text)
    head = head.split(", ")[0] if not is_systematic(head) else head
    names = [head, *aliases]
    short = [n for n in names if not is_systematic(n) and len(n) > 2]
    if not short:
        return None
    name = short[0]
    synonyms = [n for n in names if n != name and len(n) <= MAX_TERM]
    return Listed(name=name, synonyms=synonyms, source=source, control=control)


def read_ecfr(path: Path, section: str) -> Iterator[Listed]:
    """Yield the substances of one eCFR section's XML (21 CFR 1308.1x or 1310.02)."""
    raw = fix_mojibake(path.read_text(encoding="utf-8"))
    root = ET.fromstring(raw.split("?>", 1)[1] if raw.startswith("<?xml") else raw)
    paragraph = ""
    previous: Listed | None = None
    for element in root.iter():
        if element.tag == "P":
            text = "".join(element.itertext()).strip()
            match = re.match(r"\(([a-z])\)\s", text)
            if match:
                paragraph = match.group(1)
        elif element.tag == "TR":
            cells = element.findall("TD")
            if not cells:
                continue
            text = " ".join("".join(cells[0].itertext()).split())
            if section == "1310.02":
                control = "US List I" if paragraph == "a" else "US List II"
            else:
                control = f"US Schedule {_SCHEDULES[section]}"
            if previous is not None and re.match(r"^\[?(?:some|another)\b", text, re.I):
                _, aliases = _split_annotation(f"x ({text.strip('[]')})")
                previous.synonyms.extend(a for a in aliases if len(a) <= MAX_TERM)
                continue
            listed = parse_entry(text, f"{section}({paragraph})", control)
            if listed is not None:
                previous = listed
                yield listed


def _incb_schedule(text: str) -> str:
    match = re.search(r"Schedule\s+([IV]+)\s*\((\d{4})\)", text)
    if not match:
        return ""
    return f"UN {match.group(2)} Schedule {match.group(1)}"


def read_incb(folder: Path) -> Iterator[Listed]:
    """Yield the substances of the INCB Yellow (narcotics), Green and Red lists."""
    with (folder / "incb_yellow_list.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            # Footnote marks ("OPIUM3") and cut-off or grouped rows ("CPS (M) GW") in the scrape.
            name = re.sub(r"(?<=[A-Z])\d$", "", row["drug_name"].strip())
            name = re.sub(r"^N/A\s+", "", name).capitalize()
            if "(" in name or name.endswith("-") or "," in name:
                continue
            yield Listed(
                name=name,
                synonyms=_list_cell(row["synonyms"]),
                source="incb-yellow",
                control=_incb_schedule(row["convention_schedule"]),
                cas=_list_cell(row["cas_number"]),
            )
    with (folder / "incb_green_list.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            control = _incb_schedule(row["convention_schedule"])
            name = row["substance_name"].strip()
            synonyms: list[str] = []
            cas = _list_cell(row["cas_number"])
            if _CAS_NAME.match(name):
                # Rows the scrape split badly: "CAS NAME systematic-name ..." in one cell.
                words = row["synonyms"].split()
                cas = [name]
                name = words[1].strip(",") if len(words) > 1 else ""
            else:
                synonyms = [s for s in _list_cell(row["synonyms"]) if len(s) <= MAX_TERM]
                name = name.split(" ")[0] if name.isupper() else name
            if len(name) < MIN_KEY or name.endswith("-"):
                continue
            yield Listed(
                name=name.capitalize() if name.isupper() else name,
                synonyms=synonyms,
                source="incb-green:" + control.rsplit(" ", 1)[-1] if control else "incb-green",
                control=control,
                cas=cas,
            )
    with (folder / "incb_red_list.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            head, aliases = _split_annotation(row["chemical_name"])
            yield Listed(
                name=head,
                synonyms=aliases + _list_cell(row["other_names"]),
                source=f"incb-red:{row['table']}",
                control=f"INCB Table {row['table']}",
                cas=_list_cell(row["cas_number"]),
            )


def _list_cell(cell: str) -> list[str]:
    return [p.strip() for p in re.split(r";|\|", cell or "") if p.strip()]


def read_wikipedia(folder: Path) -> Iterator[Listed]:
    """Yield the designer drugs of Wikipedia's list, with the section they are listed under."""
    with (folder / "wikipedia_compounds.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["page_title"] != "List_of_designer_drugs":
                continue
            text = re.sub(r"\[\d+\]", "", row["raw_text"])
            if " \u2013 " in text or " - " in text:
                continue  # a description, not a name list
            parts = [p.strip(' "') for p in re.split(r",\s+", text) if p.strip(' "')]
            # Keep names: a part of three or more lowercase words is prose.
            parts = [p for p in parts if not re.fullmatch(r"[a-z]+(?: [a-z]+){2,}", p)]
            if not parts:
                continue
            yield Listed(
                name=parts[0],
                synonyms=[p for p in parts[1:] if len(p) <= MAX_TERM],
                source=f"wikipedia:{row['row_section']}",
                cas=_list_cell(row["cas_numbers"]),
            )


# TripSit categories of what is sold as a dietary supplement (melatonin, GABA, 5-HTP): naming
# one is no evidence of a drug market.
_TRIPSIT_SKIPPED = frozenset({"supplement"})
# TripSit's aliases are community shorthand: short ones are codes and words of other things
# ("25c" is a temperature, "moxy" a hotel, "doral" a city, "robo" a vacuum cleaner).
_MIN_ALIAS_LETTERS = 6
_MIN_CODE = 4  # an alias mixing letters and digits ("4fmph", "3fpm") is a code this long


def _tripsit_alias(alias: str) -> bool:
    """Return whether a TripSit alias is specific enough to name its substance in a listing."""
    key = term_key(alias)
    if len(key) > MAX_TERM or re.search(r"-\w$", alias):
        return False  # "4-hydroxy-n": a systematic name cut at its comma
    if any(c.isdigit() for c in key) and any(c.isalpha() for c in key):
        return len(key) >= _MIN_CODE
    return len(key) >= _MIN_ALIAS_LETTERS


def read_tripsit(path: Path) -> Iterator[Listed]:
    """Yield the substances of TripSit's drug list (drugs.json) with their aliases.

    TripSit covers what the legal lists lag behind or leave out: new research chemicals,
    nootropics, prescription medicines sold without a prescription. Entries without a
    category (brand names such as "viagra", elements such as "lithium") are left out.
    """
    drugs = json.loads(path.read_text(encoding="utf-8"))
    for key, entry in sorted(drugs.items()):
        categories = set(entry.get("categories") or ())
        if not categories or categories & _TRIPSIT_SKIPPED:
            continue
        name = str(entry.get("pretty_name") or key)
        aliases = [
            str(a).strip("\"' ") for a in entry.get("aliases") or () if _tripsit_alias(str(a))
        ]
        synonyms = [key, *aliases] if key.lower() != name.lower() else aliases
        yield Listed(name=name, synonyms=synonyms, source="tripsit")


def read_pubchem_cas(folder: Path) -> dict[str, set[str]]:
    """Return term key -> CAS numbers of the PubChem compounds it is a synonym of."""
    cas_of: dict[str, str] = {}
    with (folder / "pubchem_compounds.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["cas_primary"] and cas_is_valid(row["cas_primary"]):
                cas_of[row["cid"]] = row["cas_primary"]
    by_key: dict[str, set[str]] = {}
    with (folder / "pubchem_synonyms.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            number = cas_of.get(row["cid"])
            if number:
                by_key.setdefault(term_key(row["synonym"]), set()).add(number)
    return by_key


def read_slang(path: Path) -> dict[str, list[str]]:
    """Return DEA slang list heading -> street names ("Drug~~name; name; ...")."""
    slang: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "~~" not in line:
            continue
        heading, names = line.split("~~", 1)
        slang[heading.strip()] = [n.strip() for n in names.split(";") if n.strip()]
    return slang
