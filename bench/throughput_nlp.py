"""nlp texts/s on the generated site's listing text, normal and novel-vocabulary, one core.

The baseline, measured in the same process on the same texts, is spaCy's own tokenizer
(`spacy.blank("en")`), the least any spaCy pipeline does. It is given each text's lines joined by
spaces: on lines joined by newlines it measured ~15x slower (250 against 4,000+ texts/s on this
machine), a quirk of spaCy's tokenizer that nlp's own tokenizer does not share. Novel-vocabulary
texts are new in every round (each token a string the pipeline has not seen), as on a crawl.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import spacy
from spacy.tokenizer import Tokenizer

from bench import listing_text
from nlp import Analyser


@dataclass(frozen=True, slots=True)
class NlpRate:
    """Median texts/s of nlp and of the baseline over the rounds."""

    label: str
    chars: int
    ours: float
    baseline: float

    @property
    def ratio(self) -> float:
        """Return nlp's speed as a share of the baseline's."""
        return self.ours / self.baseline if self.baseline else 0.0


def normal_texts(count: int, seed: int) -> list[str]:
    """Return `count` ~2 KB listing texts (offers and benign) as the generated site has them."""
    rng = random.Random(f"{seed}:nlp")
    return [listing_text.listing(rng)[1] for _ in range(count)]


def novel_texts(count: int, seed: int) -> list[str]:
    """Return `count` texts of ~400 tokens never seen before (a fresh seed gives fresh ones)."""
    rng = random.Random(f"{seed}:novel")
    return [listing_text.novel(rng)[1] for _ in range(count)]


def _rate(run: Callable[[list[str]], object], texts: list[str]) -> float:
    start = time.perf_counter()
    run(texts)
    return len(texts) / (time.perf_counter() - start)


def measure(texts: int, rounds: int, seed: int = 13) -> list[NlpRate]:
    """Measure nlp and the baseline on normal and novel text, interleaved, `rounds` each."""
    tokenizer = cast(Tokenizer, spacy.blank("en").tokenizer)  # typed as a callable
    # One Analyser per kind, as one crawl has: novel text must not slow the normal rounds.
    normal_analyser, novel_analyser = Analyser(), Analyser()
    warm = normal_texts(200, seed + 1)
    for analyser in (normal_analyser, novel_analyser):
        list(analyser.analyse_many(warm))
    list(tokenizer.pipe(warm))

    def ours(analyser: Analyser) -> Callable[[list[str]], object]:
        return lambda batch: list(analyser.analyse_many(batch))

    def bare(batch: list[str]) -> object:
        return list(tokenizer.pipe(text.replace("\n", " ") for text in batch))

    normal = normal_texts(texts, seed)
    rates: dict[str, tuple[list[float], list[float]]] = {"normal": ([], []), "novel": ([], [])}
    chars = {"normal": sum(map(len, normal)) // len(normal), "novel": 0}
    for round_no in range(rounds):
        rates["normal"][1].append(_rate(bare, normal))
        rates["normal"][0].append(_rate(ours(normal_analyser), normal))
        # Fresh words each round: a word seen once is no longer novel. The tokenizer and the
        # Analyser have vocabularies of their own, so the same texts are novel to both.
        novel = novel_texts(texts, seed + 100 + round_no)
        chars["novel"] = sum(map(len, novel)) // len(novel)
        rates["novel"][1].append(_rate(bare, novel))
        rates["novel"][0].append(_rate(ours(novel_analyser), novel))
    return [
        NlpRate(
            label,
            chars[label],
            statistics.median(rates[label][0]),
            statistics.median(rates[label][1]),
        )
        for label in ("normal", "novel")
    ]


def report(rates: list[NlpRate], texts: int, rounds: int) -> None:
    """Print texts/s of nlp and the baseline, and their ratio."""
    print(f"\nnlp, one core: {texts} texts a round, median of {rounds} rounds")
    print(f"{'':<34} {'nlp texts/s':>12} {'tokenizer texts/s':>18} {'nlp / tokenizer':>16}")
    for rate in rates:
        label = (
            f"listing text (~{rate.chars:,} chars)"
            if rate.label == "normal"
            else f"novel vocabulary (~{rate.chars:,} chars)"
        )
        print(f"{label:<34} {rate.ours:12.0f} {rate.baseline:18.0f} {rate.ratio:15.3f}x")
