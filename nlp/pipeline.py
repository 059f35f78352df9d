"""Build the spaCy pipeline and run it: the Analyser and the module-level shortcuts."""

from __future__ import annotations

import gc
import itertools
import threading
from collections.abc import Iterable, Iterator

import spacy
from spacy.language import Language
from spacy.pipeline import SpanRuler
from spacy.tokens import Doc

import nlp.components  # noqa: F401  (registers the synthwatch_* factories)
from nlp.analysis import Analysis
from nlp.extensions import get, put
from nlp.lexicon import load_lexicon
from nlp.mentions import LEXICON_SPANS
from nlp.normalise import Normaliser
from nlp.patterns import lexicon_patterns
from nlp.signals import PageSignals
from nlp.tokenizer import NormalisingTokenizer
from nlp.windows import Prefilter

# What analyse_many takes: texts, or (text, page signals) pairs.
Item = str | tuple[str, PageSignals | None]

MAX_TEXT_LENGTH = 5_000_000  # characters; longer texts raise ValueError (spaCy E088)
# Strings a pipeline may add to its StringStore before the Analyser builds a fresh one:
# some 10 MB of strings and lexemes, reached after about 200,000 novel-vocabulary pages.
MAX_NEW_STRINGS = 100_000
# Texts read ahead of the pipeline: the StringStore is looked at between two chunks.
_CHUNK = 1000


def build_pipeline(
    *, lexicon: str = "", weights: str = "", cues: str = "", analogues: str = ""
) -> Language:
    """Return a blank English pipeline with the SynthWatch components; paths default to data."""
    loaded = load_lexicon(lexicon or None)
    nlp = spacy.blank("en")
    # spaCy's 1,000,000-character limit protects parsers' memory; this pipeline has none.
    nlp.max_length = MAX_TEXT_LENGTH
    tokenizer = NormalisingTokenizer(nlp, Normaliser(loaded.vocabulary()))
    nlp.tokenizer = tokenizer
    ruler = nlp.add_pipe(
        "span_ruler",
        name="synthwatch_lexicon",
        config={"spans_key": LEXICON_SPANS, "phrase_matcher_attr": "LOWER", "validate": False},
    )
    if not isinstance(ruler, SpanRuler):
        raise TypeError(f"expected a SpanRuler, got {type(ruler).__name__}")
    patterns = lexicon_patterns(loaded)
    ruler.add_patterns(patterns)
    tokenizer.prefilter = _prefilter(tokenizer, loaded.source, [p["pattern"] for p in patterns])
    nlp.add_pipe("synthwatch_cas_v1", config={"lexicon": lexicon})
    nlp.add_pipe("synthwatch_analogues_v1", config={"lexicon": lexicon, "analogues": analogues})
    nlp.add_pipe("synthwatch_fuzzy_v1", config={"lexicon": lexicon})
    nlp.add_pipe("synthwatch_mentions_v1", config={"lexicon": lexicon})
    nlp.add_pipe("synthwatch_indicators_v1", config={"cues": cues})
    nlp.add_pipe("synthwatch_candidates_v1")
    nlp.add_pipe("synthwatch_context_v1", config={"cues": cues})
    nlp.add_pipe("synthwatch_scoring_v1", config={"weights": weights})
    return nlp


# Lexicon source -> its Prefilter: tokenising 12,000 patterns again on every rebuild would cost
# a second; the keys depend only on the patterns and the tokenizer's fixed rules.
_prefilters: dict[str, Prefilter] = {}


def _prefilter(tokenizer: NormalisingTokenizer, source: str, patterns: list[str]) -> Prefilter:
    prefilter = _prefilters.get(source)
    if prefilter is None or prefilter.patterns != patterns:
        tokens = [[t.lower_ for t in tokenizer(pattern)] for pattern in patterns]
        prefilter = _prefilters[source] = Prefilter(tokenizer.tokenizer, tokens, patterns)
    return prefilter


class Analyser:
    """Analyse listing texts, rebuilding the pipeline when its StringStore has grown too much.

    spaCy's StringStore keeps every string it interns. The tokenizer interns only the windows
    where a lexicon term could match (`nlp.windows`): about one string in two novel-vocabulary
    pages, where tokenising all of them interned some 400 a page (1.5 GB after 20k pages).
    A fresh pipeline (two seconds to build) starts a fresh store once `max_new_strings` have
    been added, or every `rebuild_every` documents if that is given. One Analyser per
    thread: spaCy pipelines are not thread-safe.
    """

    def __init__(
        self, *, rebuild_every: int | None = None, max_new_strings: int = MAX_NEW_STRINGS
    ) -> None:
        if rebuild_every is not None and rebuild_every < 1:
            raise ValueError("rebuild_every must be at least 1")
        if max_new_strings < 1:
            raise ValueError("max_new_strings must be at least 1")
        self.rebuild_every = rebuild_every
        self.max_new_strings = max_new_strings
        self.rebuilds = 0
        self._build()

    def _build(self) -> None:
        self.nlp = build_pipeline()
        self._strings = len(self.nlp.vocab.strings)
        self._since_rebuild = 0

    def _count(self, documents: int) -> None:
        self._since_rebuild += documents
        grown = len(self.nlp.vocab.strings) - self._strings
        if grown > self.max_new_strings or (
            self.rebuild_every is not None and self._since_rebuild >= self.rebuild_every
        ):
            # Free the old pipeline first: both alive at once would add a pipeline (~50 MB)
            # to the process's peak at every rebuild. The callers hold no Doc of it by now;
            # its components refer to one another, so only the cycle collector frees it.
            del self.nlp
            gc.collect()
            self._build()
            self.rebuilds += 1

    def _doc(self, item: Item) -> Doc:
        text, signals = (item, None) if isinstance(item, str) else item
        doc = self.nlp.make_doc(text)
        put(doc, "sw_signals", signals)
        return doc

    def analyse(self, text: str, signals: PageSignals | None = None) -> Analysis:
        """Analyse one text, with the signals of its page if the crawler found any."""
        doc = self._doc((text, signals))
        for _, component in self.nlp.pipeline:
            doc = component(doc)
        analysis: Analysis = get(doc, "sw_analysis")
        del doc  # a Doc holds its vocab: see _count
        self._count(1)
        return analysis

    def analyse_many(self, items: Iterable[Item], batch_size: int = 32) -> Iterator[Analysis]:
        """Analyse a stream of texts, or (text, PageSignals) pairs, with `nlp.pipe`.

        One process on purpose: spaCy's n_process is ten times slower for matching.
        """
        stream = iter(items)
        while True:
            room = _CHUNK
            if self.rebuild_every is not None:
                room = min(room, self.rebuild_every - self._since_rebuild)
            chunk = list(itertools.islice(stream, room))
            if not chunk:
                return
            docs = self.nlp.pipe((self._doc(item) for item in chunk), batch_size=batch_size)
            for doc in docs:
                yield get(doc, "sw_analysis")
            del docs, doc  # the last Doc holds its vocab: see _count
            self._count(len(chunk))


_default: Analyser | None = None
_default_lock = threading.Lock()


def default_analyser() -> Analyser:
    """Return the module-level Analyser, building it on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Analyser()
        return _default


def analyse(text: str, signals: PageSignals | None = None) -> Analysis:
    """Analyse one text (and its page's signals) with the module-level Analyser."""
    return default_analyser().analyse(text, signals)


def analyse_many(items: Iterable[Item]) -> Iterator[Analysis]:
    """Analyse texts, or (text, PageSignals) pairs, with the module-level Analyser."""
    return default_analyser().analyse_many(items)
