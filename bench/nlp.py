"""Texts per second of `nlp` on 2 KB listings, beside the drug-named-entity-recognition package.

Each listing is one text of the development set (tests/fixtures/nlp/dev.jsonl) inside ~2 KB of
the page text around a listing (navigation, shop policy, reviews), as a crawled page gives it.
Both tools run on the same texts in this process, one core; recall is measured on the target
substances (fentanyl, nitazene, ... precursor) the development set labels: a text counts as
found when the tool names a substance of each target class it is labelled with. The package's
findings are mapped to our classes through our lexicon's terms (a name it finds that our
lexicon lacks cannot be counted for it).

Run: .venv/bin/python -m bench.nlp [--texts N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nlp import TARGET_CLASSES, Analyser, load_lexicon
from nlp.lexicon import term_key

DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nlp" / "dev.jsonl"
SIZE = 2000

_PAGE = (
    "Home | Categories | Stimulants | Opioids | Benzos | Research chemicals | Sign in | Cart (0)",
    "Vendor profile: member since 2023, 1,204 sales, average rating 4.8 of 5. Ships from EU.",
    "Shipping policy: orders placed before 2 pm are sent the same day. We use vacuum sealing "
    "and plain envelopes. Tracking is available on request for larger orders.",
    "Refund policy: if your order does not arrive within 14 days, open a dispute and we will "
    "look into it. Partial reships only after the tracking shows the parcel was lost.",
    "Review: arrived in five days, well packed, exactly as described. Would order again.",
    "Review: communication was slow but the package came in the end. Three stars.",
    "Review: second order from this vendor, consistent quality, thanks mate.",
    "Related listings: see our other products in the same category. Prices in USD.",
    "Terms: by ordering you confirm that you are of legal age in your country and that you "
    "accept full responsibility for compliance with local laws.",
    "FAQ: How long does shipping take? Domestic 2-4 days, international 7-14 days. Do you "
    "offer samples? Only to verified buyers with more than ten completed orders.",
    "Footer: About us | Contact | Privacy | PGP key | Mirror list | Canary updated monthly",
)


def listings(count: int, seed: int = 11) -> list[tuple[str, frozenset[str]]]:
    """Return `count` ~2 KB listing texts and the target classes each is labelled with."""
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    texts: list[tuple[str, frozenset[str]]] = []
    for n in range(count):
        row = rows[n % len(rows)]
        parts = [_PAGE[0], row["text"]]
        while sum(len(p) + 1 for p in parts) < SIZE:
            parts.insert(rng.randrange(2, len(parts) + 1), rng.choice(_PAGE[1:]))
        text = "\n".join(parts)[:SIZE]
        texts.append((text, frozenset(row["classes"]) & frozenset(TARGET_CLASSES)))
    return texts


def _class_of_term() -> dict[str, str]:
    return {term_key(t): c.substance_class for c in load_lexicon() for t, _ in c.terms()}


def baseline_finder() -> Callable[[str], set[str]] | None:
    """Return a function giving the classes drug-named-entity-recognition finds, if installed."""
    try:
        from drug_named_entity_recognition import find_drugs
    except ImportError:
        return None
    classes = _class_of_term()

    def find(text: str) -> set[str]:
        found: set[str] = set()
        tokens = re.findall(r"[\w\-]+", text)
        for drug, _start, _end in find_drugs(tokens, is_ignore_case=True):
            names: list[Any] = [drug.get("name", ""), drug.get("matching_string", "")]
            names += list(drug.get("synonyms", []))
            for name in names:
                substance_class = classes.get(term_key(str(name)))
                if substance_class:
                    found.add(substance_class)
                    break
        return found

    return find


def _timed(run: Callable[[], list[set[str]]], rounds: int) -> tuple[float, list[set[str]]]:
    times: list[float] = []
    result: list[set[str]] = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def recall(found: Sequence[set[str]], gold: Sequence[frozenset[str]]) -> float:
    """Share of (text, target class) labels whose class the tool found in the text."""
    pairs = [(f, c) for f, g in zip(found, gold, strict=True) for c in g]
    return sum(c in f for f, c in pairs) / len(pairs) if pairs else 1.0


def main() -> None:
    """Print texts/s and target-class recall of nlp and of the baseline package."""
    parser = argparse.ArgumentParser(prog="python -m bench.nlp")
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = listings(args.texts)
    texts = [t for t, _ in data]
    gold = [g for _, g in data]
    analyser = Analyser(rebuild_every=10**9)  # a rebuild inside a timed round would skew it
    list(analyser.analyse_many(texts[:200]))  # warm the caches as a long crawl would

    def ours() -> list[set[str]]:
        return [{m.substance_class for m in a.mentions} for a in analyser.analyse_many(texts)]

    seconds, found = _timed(ours, args.rounds)
    print(f"{len(texts)} listings of {SIZE} characters, median of {args.rounds} rounds, one core")
    print(
        f"nlp.analyse_many:                {len(texts) / seconds:8.0f} texts/s"
        f"   target-class recall {recall(found, gold):.3f}"
    )
    find = baseline_finder()
    if find is None:
        print("drug-named-entity-recognition is not installed (pip install -e '.[bench]')")
        return
    find(texts[0])  # load its dictionary before timing
    base_seconds, base_found = _timed(lambda: [find(t) for t in texts], args.rounds)
    print(
        f"drug-named-entity-recognition:   {len(texts) / base_seconds:8.0f} texts/s"
        f"   target-class recall {recall(base_found, gold):.3f}"
    )
    print(f"ratio (nlp / baseline speed):    {base_seconds / seconds:8.2f}x")


if __name__ == "__main__":
    main()
