"""Time nlp.analyse on ~5 KB listing texts against bare spaCy tokenisation of the same texts.

Run: .venv/bin/python -m bench.nlp_analyse
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import spacy

from nlp import Analyser

_PARAGRAPHS = (
    "Acetyl-F3ntanyl powder 99% pure, 10g for $950 or 100 g at USD 8,200. Ships worldwide in "
    "stealth, discreet packaging. Wickr: h1a2b3c4 or Telegram @h5d6e7f8.",
    "We supply 1-Boc-4-piperidone CAS 79099-07-3 and 4-ANPP, MOQ 1 kg, price tiers from "
    "USD 1,200/kg, express courier, COA and HPLC on request, contact sales@example.org.",
    "The weather was mild for the season and the market opened early; traders set out tables "
    "of fruit, second-hand books and bicycle parts while a band played near the fountain.",
    "Customs officers seized 40 kg of precursor chemicals at the port, police said on Monday. "
    "The shipment was declared as cleaning agents, the agency reported.",
    "Free fentanyl test strips and naloxone kits at the drop-in centre every Tuesday; harm "
    "reduction workers can show you how to use them. Never use alone.",
    "m e t o n i t a z e n e 5g \u20ac80/g, Carfent\u200banil 1 g, MDMB-4en-PINACA 100 g "
    "\u00a3450, bromazolam pellets 100 pills, ships from EU, WhatsApp +44 7700 900123.",
)


def _texts(count: int, size: int = 5000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts: list[str] = []
    for n in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < size:
            # A few novel tokens per text, as real pages have, so the StringStore grows.
            parts.append(rng.choice(_PARAGRAPHS) + f" ref{n}x{len(parts)}")
        texts.append(" ".join(parts)[:size])
    return texts


def _per_text(run: Callable[[list[str]], object], texts: list[str]) -> float:
    start = time.perf_counter()
    run(texts)
    return (time.perf_counter() - start) / len(texts)


def main() -> None:
    """Print ms per ~5 KB text for tokenisation, analyse() and analyse_many()."""
    texts = _texts(300)
    blank = spacy.blank("en")
    analyser = Analyser()
    analyser.analyse(texts[0])  # build caches before timing
    baseline = _per_text(lambda ts: [blank(t) for t in ts], texts)
    single = _per_text(lambda ts: [analyser.analyse(t) for t in ts], texts)
    many = _per_text(lambda ts: list(analyser.analyse_many(ts)), texts)
    print(f"texts: {len(texts)} x {len(texts[0])} chars")
    print(f"spacy.blank tokenise: {baseline * 1000:7.2f} ms/text (baseline)")
    print(f"analyse():            {single * 1000:7.2f} ms/text ({single / baseline:4.1f}x)")
    print(f"analyse_many():       {many * 1000:7.2f} ms/text ({many / baseline:4.1f}x)")


if __name__ == "__main__":
    main()
