"""nlp texts/s on the generated site's listing text, normal and novel-vocabulary, one core.

The baseline, measured in the same process on the same texts, is spaCy's own tokenizer
(`spacy.blank("en")`), the least any spaCy pipeline does. It is given each text's lines joined by
spaces: on lines joined by newlines it measured ~15x slower (250 against 4,000+ texts/s on this
machine), a quirk of spaCy's tokenizer that nlp's own tokenizer does not share. Novel-vocabulary
texts are new in every round (each token a string the pipeline has not seen), as on a crawl.
Rates are of CPU time (this thread's), so other work on the machine costs them little; with
`--against REV` the nlp package with the files changed since REV as they were then
(`bench.nlp_before`) runs too, interleaved in this process, and its ratio is printed.

Run: .venv/bin/python -m bench.throughput_nlp [--texts N] [--rounds N] [--against REV]
"""

from __future__ import annotations

import argparse
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
    before: float = 0.0  # the earlier nlp's (`--against`), 0 when not measured

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
    start = time.thread_time()
    run(texts)
    return len(texts) / (time.thread_time() - start)


def measure(
    texts: int, rounds: int, seed: int = 13, before: type[Analyser] | None = None
) -> list[NlpRate]:
    """Measure nlp and the baseline on normal and novel text, interleaved, `rounds` each.

    `before` is an earlier nlp's Analyser (`bench.nlp_before`), measured beside ours.
    """
    tokenizer = cast(Tokenizer, spacy.blank("en").tokenizer)  # typed as a callable
    # One Analyser per kind, as one crawl has: novel text must not slow the normal rounds.
    normal_analyser, novel_analyser = Analyser(), Analyser()
    earlier = (before(), before()) if before is not None else None
    warm = normal_texts(200, seed + 1)
    for analyser in (normal_analyser, novel_analyser, *(earlier or ())):
        list(analyser.analyse_many(warm))
    list(tokenizer.pipe(warm))

    def ours(analyser: Analyser) -> Callable[[list[str]], object]:
        return lambda batch: list(analyser.analyse_many(batch))

    def bare(batch: list[str]) -> object:
        return list(tokenizer.pipe(text.replace("\n", " ") for text in batch))

    normal = normal_texts(texts, seed)
    # label -> (ours, baseline, before) rates of each round
    rates: dict[str, tuple[list[float], ...]] = {"normal": ([], [], []), "novel": ([], [], [])}
    chars = {"normal": sum(map(len, normal)) // len(normal), "novel": 0}
    for round_no in range(rounds):
        # Fresh words each round: a word seen once is no longer novel. The tokenizer and the
        # Analysers have vocabularies of their own, so the same texts are novel to each.
        novel = novel_texts(texts, seed + 100 + round_no)
        chars["novel"] = sum(map(len, novel)) // len(novel)
        for label, batch, analyser, index in (
            ("normal", normal, normal_analyser, 0),
            ("novel", novel, novel_analyser, 1),
        ):
            rates[label][1].append(_rate(bare, batch))
            runs = [(0, ours(analyser))]
            if earlier is not None:
                runs.append((2, ours(earlier[index])))
            # Alternate which runs first: neither gets the warmer caches every round.
            for slot, run in runs if round_no % 2 == 0 else runs[::-1]:
                rates[label][slot].append(_rate(run, batch))
    return [
        NlpRate(
            label,
            chars[label],
            statistics.median(rates[label][0]),
            statistics.median(rates[label][1]),
            statistics.median(rates[label][2]) if rates[label][2] else 0.0,
        )
        for label in ("normal", "novel")
    ]


def report(rates: list[NlpRate], texts: int, rounds: int, against: str = "") -> None:
    """Print texts/s of nlp and the baseline, their ratio, and the earlier nlp's if measured."""
    print(f"\nnlp, one core (CPU time): {texts} texts a round, median of {rounds} rounds")
    before = f"{'nlp at ' + against:>14} {'now / then':>11}" if against else ""
    print(
        f"{'':<34} {'nlp texts/s':>12} {'tokenizer texts/s':>18} {'nlp / tokenizer':>16} {before}"
    )
    for rate in rates:
        label = (
            f"listing text (~{rate.chars:,} chars)"
            if rate.label == "normal"
            else f"novel vocabulary (~{rate.chars:,} chars)"
        )
        then = ""
        if against and rate.before:
            then = f" {rate.before:14.0f} {rate.ours / rate.before:10.2f}x"
        print(f"{label:<34} {rate.ours:12.0f} {rate.baseline:18.0f} {rate.ratio:15.3f}x{then}")


def main(argv: list[str] | None = None) -> int:
    """Measure and print the nlp rates (`--against REV` beside an earlier nlp)."""
    parser = argparse.ArgumentParser(prog="python -m bench.throughput_nlp")
    parser.add_argument("--texts", type=int, default=600, help="texts a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median)")
    parser.add_argument(
        "--against", metavar="REV", default="", help="also run nlp's changed files as at REV"
    )
    args = parser.parse_args(argv)
    before = None
    if args.against:
        from bench import nlp_before

        changed = nlp_before.changed_files(args.against)
        print(f"nlp at {args.against}: the working tree with {', '.join(changed)} as then")
        before = nlp_before.load(args.against, changed).Analyser
    report(measure(args.texts, args.rounds, before=before), args.texts, args.rounds, args.against)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
