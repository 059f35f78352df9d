"""Real pages and listings (../shared/data): saved market pages, eBay texts, held-out titles.

Texts are split by a hash of their content (a quarter held out), as `bench/nlp_realdata.py`
does; the assertions here use the held-out part, which the rules were not tuned on.
"""

from __future__ import annotations

import csv
import hashlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nlp import analyse_many

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PAGES = SHARED_DATA / "html_pages"
LISTINGS = SHARED_DATA / "listings"
SYNTHETIC = {
    "Stimulants > Mephedrone": "synthetic_cathinone",
    "Stimulants > 3-MMC": "synthetic_cathinone",
    "Psychedelics > 2C-B": "phenethylamine",
    "Psychedelics > DMT": "tryptamine",
    "Dissociatives > Ketamine": "arylcyclohexylamine",
    "Stimulants > Meth": "amphetamine",
    "Stimulants > Amphetamine": "amphetamine",
    "Ecstasy > MDMA": "amphetamine",
    "Benzos > Xanax": "benzodiazepine",
    "Opioids > OxyCodone": "opioid",
}

pytestmark = pytest.mark.shared_data


def _held_out(text: str) -> bool:
    return hashlib.sha256(text.encode("utf-8", "replace")).digest()[0] % 4 == 0


class _Visible(HTMLParser):
    """The text a browser shows, one line per block: no field selectors, sidebars included."""

    BLOCKS = frozenset(
        [
            "br",
            "div",
            "h1",
            "h2",
            "h3",
            "h4",
            "li",
            "p",
            "section",
            "td",
            "th",
            "tr",
            "ul",
            "ol",
            "nav",
            "aside",
            "footer",
        ]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style", "head")
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def _visible(path: Path) -> str:
    parser = _Visible()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def test_saved_market_pages_give_offers_and_their_sidebars_cancel_nothing() -> None:
    pages = sorted(PAGES.glob("*-*/page*.html"))
    assert len(pages) > 30
    analyses = list(analyse_many(_visible(p) for p in pages))
    flagged = [a for a in analyses if a.offer]
    assert len(flagged) / len(pages) >= 0.9
    for analysis in flagged:
        assert not any(r.weight < 0 and "harm reduction" in r.text for r in analysis.reasons)


def test_ebay_texts_are_never_flagged() -> None:
    texts = [
        line
        for part in ("train", "validation")
        for line in (LISTINGS / "legal_vs_illegal" / part / "ebay.txt")
        .read_text(encoding="utf-8", errors="replace")
        .splitlines()
        if len(line.strip()) > 20
    ]
    assert len(texts) > 300
    assert [t[:80] for t, a in zip(texts, analyse_many(texts), strict=True) if a.offer] == []


def test_held_out_synthetic_drug_titles_name_their_class() -> None:
    rows: list[tuple[str, str]] = []
    for path in sorted((LISTINGS / "darkmatter").glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            rows.extend(
                (r.get("Name") or "", SYNTHETIC[r["Category"]])
                for r in csv.DictReader(handle)
                if r.get("Category") in SYNTHETIC and _held_out(r.get("Name") or "")
            )
    assert len(rows) > 300
    analyses = analyse_many(title for title, _ in rows)
    found = [
        wanted in {m.substance_class for m in a.mentions}
        for (_, wanted), a in zip(rows, analyses, strict=True)
    ]
    assert sum(found) / len(found) >= 0.90
