"""SynthWatch NLP: listing text in, an explained analysis out.

    >>> from nlp import analyse
    >>> analysis = analyse("Acetyl-F3ntanyl 10g $950, ships worldwide, Wickr: hx1y2z3")
    >>> analysis.offer, analysis.concept_ids, analysis.mentions[0].text
    (True, ('acetylfentanyl',), 'Acetyl-F3ntanyl')

How it works (one module per step):
- `normalise`: undo obfuscation (NFKC, zero-width, homoglyphs, spaced letters, leetspeak)
  keeping a map back to the original offsets; `tokenizer` runs it before spaCy tokenises.
- `components`: spaCy components after a `span_ruler` over `lexicon` terms (`patterns`):
  CAS numbers, analogue naming, mention resolution (`mentions`), `indicators`, `context`,
  `scoring`. `pipeline` builds the `spacy.blank("en")` pipeline and the `Analyser`.
- Data in `nlp/data`: `lexicon.jsonl` (substances), `cues.toml` (keyword cues),
  `analogues.toml` (analogue suffixes), `weights.toml` (scoring).
"""

from __future__ import annotations

from nlp.analysis import CLASSES, TARGET_CLASSES, Analysis, Indicator, Mention, Reason
from nlp.errors import NlpDataError
from nlp.lexicon import Concept, Lexicon, load_lexicon
from nlp.pipeline import Analyser, analyse, analyse_many

__all__ = [
    "CLASSES",
    "TARGET_CLASSES",
    "Analyser",
    "Analysis",
    "Concept",
    "Indicator",
    "Lexicon",
    "Mention",
    "NlpDataError",
    "Reason",
    "analyse",
    "analyse_many",
    "load_lexicon",
]
