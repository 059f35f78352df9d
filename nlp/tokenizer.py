"""A tokenizer that normalises the text first; the Doc keeps the way back to the original."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, compile_suffix_regex

from nlp.extensions import get, put, register_extensions
from nlp.normalise import Normaliser
from nlp.windows import Prefilter, WindowTokenizer, window_spans

# Split on every hyphen or slash between letters or digits, so "1-Boc-4-piperidone", "U-47700"
# and "MDMB-4en-PINACA" always tokenise part by part (spaCy keeps "boc-4" and "2c/2c" whole),
# on a colon before a digit ("CAS:79099-07-3"), and on a bracket glued between words
# ("25I-NBOMe(blotters)x50"; chemical names with brackets are tokenised the same way in the
# lexicon's patterns, so they still match).
_EXTRA_INFIXES = (
    r"(?<=[0-9A-Za-z])[-/](?=[0-9A-Za-z])",
    r"(?<=[A-Za-z]):(?=[0-9])",
    r"(?<=[0-9A-Za-z'\u2019])[()](?=[0-9A-Za-z])",
)


_INITIAL = re.compile(r"[A-Za-z]\.")
_LINE_BREAKS = "\n\r\t\v\f"
# Punctuation that listings glue to names ("Meth|", "50*Xanax", "Cocaine****Off", "MDMA.A++",
# "cocaine-", "Bromazolam|1mg") is replaced for the tokenizer only, one character for one so
# that every offset holds; the lexicon's patterns pass the same tokenizer. Kept: what lexicon
# terms contain (hyphens inside words, brackets, commas, apostrophes, primes, "±") and full
# stops other than one between two letters. Inside a token a run becomes a space and commas
# (split off as affixes); beside a space it becomes commas only: spaCy's tokenizer caches no
# run of spaces, and a page full of them tokenises ten times slower.
# The pattern starts with one character class, the union of its branches' first characters,
# so the engine skips to candidates directly; each branch then checks, behind it, which
# character it starts with (the branches' first characters are disjoint). As branches:
# [^\w\s\-(),'\u2019\u2032\u00b1.\[\]+*@]+ | \.(?=[^\W\d_])(?<=[^\W\d_]\.)
# | -+(?![0-9A-Za-z]) | [\[\]+*]+
_GLUED = r"[^\w\s\-(),'\u2019\u2032\u00b1.\[\]+*@]"
_GLUE = re.compile(
    r"[^\w\s(),'\u2019\u2032\u00b1@]"
    rf"(?:(?<={_GLUED}){_GLUED}*|(?<=[^\W\d_]\.)(?=[^\W\d_])"
    r"|(?<=-)-*(?![0-9A-Za-z])|(?<=[\[\]+*])[\[\]+*]*)"
)
_BRACKETS = frozenset("[]+*")
_LINKS = ("@", "://", "www.")


def _blank_line_breaks(text: str) -> str:
    """Return text with each line break or tab as one space (str.translate is ten times slower)."""
    for char in _LINE_BREAKS:
        if char in text:
            text = text.replace(char, " ")
    return text


def _replace_glue(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if text[start] in _BRACKETS and not (before.isalnum() or after.isalnum()):
        return match.group()  # "(±)", "[1,2]": as lexicon terms write them
    if before.isspace() or after.isspace():
        return "," * (end - start)
    return " " + "," * (end - start - 1)


def _protected(text: str) -> list[tuple[int, int]]:
    """Return the spans of the words holding a handle, an e-mail address or a link."""
    spans: list[tuple[int, int]] = []
    for mark in _LINKS:
        at = text.find(mark)
        while at != -1:
            start, end = at, at + len(mark)
            while start > 0 and not text[start - 1].isspace():
                start -= 1
            while end < len(text) and not text[end].isspace():
                end += 1
            spans.append((start, end))
            at = text.find(mark, end)
    spans.sort()
    return spans


def _blank_glue(text: str) -> str:
    """Blank the punctuation glued to words, outside handles, e-mail addresses and links."""
    spans = _protected(text)
    if not spans:
        return _GLUE.sub(_replace_glue, text)
    parts: list[str] = []
    done = 0
    for start, end in spans:
        if start < done:
            start = done
        parts.append(_GLUE.sub(_replace_glue, text[done:start]))
        parts.append(text[start:end])
        done = max(done, end)
    parts.append(_GLUE.sub(_replace_glue, text[done:]))
    return "".join(parts)


class NormalisingTokenizer:
    """Normalise text, then tokenise the normalised text with spaCy's tokenizer.

    With a `prefilter` (set once the lexicon patterns are tokenised), only the windows where a
    pattern could match are tokenised (`nlp.windows`); `align` gives token boundaries anywhere.
    """

    def __init__(self, nlp: Language, normaliser: Normaliser) -> None:
        register_extensions()
        tokenizer = nlp.tokenizer
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"expected spaCy's Tokenizer, not {type(tokenizer).__name__}")
        infixes = [*(nlp.Defaults.infixes or ()), *_EXTRA_INFIXES]
        tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
        # English keeps a capital's full stop ("B.", an initial): "2C-B." must end in "B".
        suffixes = [*(nlp.Defaults.suffixes or ()), r"(?<=[A-Z])\."]
        tokenizer.suffix_search = compile_suffix_regex(suffixes).search
        tokenizer.rules = {
            key: value
            for key, value in (tokenizer.rules or {}).items()
            if not _INITIAL.fullmatch(key)
        }
        self.tokenizer = tokenizer
        self.vocab = nlp.vocab
        self.normaliser = normaliser
        self._prefilter: Prefilter | None = None
        self._windows: WindowTokenizer | None = None

    def __call__(self, text: str) -> Doc:
        normalised = self.normaliser(text)
        # spaCy splits on spaces only and caches what lies between; "Ships\nReview:" would be
        # a new string to split by hand on every page. One space for one character keeps
        # every offset, and the components read line breaks from `normalised.text`.
        spaced = _blank_line_breaks(normalised.text)
        windows = self.prefilter.windows(spaced) if self.prefilter is not None else None
        if windows is None or self._windows is None:
            doc: Doc = self.tokenizer(_blank_glue(spaced))
            spans = window_spans(spaced, [(0, len(spaced))])
        else:
            doc = self._windows(self.vocab, spaced, windows)
            spans = window_spans(spaced, windows)
        put(doc, "sw_normalised", normalised)
        put(doc, "sw_windows", spans)
        return doc

    @property
    def prefilter(self) -> Prefilter | None:
        """The windows to tokenise, or None to tokenise whole texts (the lexicon patterns)."""
        return self._prefilter

    @prefilter.setter
    def prefilter(self, prefilter: Prefilter | None) -> None:
        self._prefilter = prefilter
        self._windows = (
            WindowTokenizer(self.tokenizer, _blank_glue, prefilter) if prefilter else None
        )

    def align(self, doc: Doc, start: int, end: int, *, expand: bool) -> tuple[int, int] | None:
        """Return the span of the normalised text's tokens that `Doc.char_span` would give.

        `expand` widens [start, end) to the tokens it touches; otherwise it must fit tokens
        exactly (None if not). The tokens are those of the whole text, window or not.
        """
        mode = "expand" if expand else "strict"
        windows = get(doc, "sw_windows")
        if windows is None:
            span = doc.char_span(start, end, alignment_mode=mode)
            return None if span is None else (span.start_char, span.end_char)
        inside = windows.to_doc(start, end)
        if inside is not None:
            span = doc.char_span(inside[0], inside[1], alignment_mode=mode)
            return None if span is None else windows.to_text(span.start_char, span.end_char)
        text = windows.text
        region = self.prefilter.region(text, start, end) if self.prefilter is not None else None
        low, high = region if region is not None else (0, len(text))
        part: Doc = self.tokenizer(_blank_glue(text[low:high]))
        span = part.char_span(start - low, end - low, alignment_mode=mode)
        return None if span is None else (span.start_char + low, span.end_char + low)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        """Tokenise a stream of texts."""
        for text in texts:
            yield self(text)
