"""Tokenise only the windows of a text where a lexicon term could match.

spaCy's tokenizer interns every token it sees: a page of product codes, names and handles grows
the StringStore by hundreds of strings and costs `Vocab._new_lexeme` for each. Only the lexicon
phrase matcher needs tokens, so an Aho-Corasick automaton finds where a term could stand and
spaCy tokenises those windows only, joined by line breaks; the other components read the
normalised text. Nothing is lost, and the tokens are the ones the whole text would give:

- every lexicon pattern has a *key*, the longest run of word characters inside one of its
  tokens; a match holds its key, in the normalised text too (the glue blanking of
  `nlp.tokenizer` changes no word character), so a text without the key holds no match;
- a key must stand on token boundaries: between two ASCII letters or digits spaCy splits only
  a digit from a letter (units: "5|mg") or where a tokenizer exception says so ("can|not"),
  so a key inside a word or number ("ice" in "price", "836" in "27836") is no hit;
- the letters and digits around a key must spell the rest of one of its patterns, whatever
  stands between them ("4-ANPP" and "4 anpp" both spell "4anpp");
- a window is whole whitespace-separated chunks around a hit, wide enough for any match of
  those patterns; spaCy tokenises a chunk on its own (affixes, infixes, exceptions), except
  where one of its multi-token exceptions (":)" written ": )") could reach over a single
  space into the next chunk: such neighbours join the window;
- the windows are joined by "\\n", which ends a token, is a token of its own, and is part of
  no pattern, so no match or exception reaches from one window into the next.

Texts holding a letter whose lowercase depends on its neighbours (final sigma) or is longer
than one character ("İ") are tokenised whole, as before.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import ahocorasick_rs
from spacy.attrs import ORTH
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlp.cues import lowercase

_WORD_RUN = re.compile(r"\w+")
_NON_WORD = re.compile(r"\W+")
# Lowercase of these is not one character chosen by the character alone.
_CONTEXT_LOWER = re.compile("[\u0130\u03a3]")
WINDOW_JOIN = "\n"
# Groups of chunks whose tokens are remembered; the cache is dropped when it grows past this.
# A group is remembered the second time it is seen: a novel-vocabulary page's groups are new
# (some 1 KB each, a crawl's steady climb when all were kept), the hashes of those seen once
# are kept up to _ONCE_LIMIT (some 60 bytes each).
_GROUP_CACHE_LIMIT = 20_000
_ONCE_LIMIT = 100_000


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
# Pairs of characters spaCy's affix rules never split: only a digit before a letter is.
_JOINED = frozenset(
    a + b
    for a in _LETTERS + _DIGITS
    for b in _LETTERS + _DIGITS
    if not (a in _DIGITS and b in _LETTERS)
)


def _alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


@dataclass(frozen=True, slots=True)
class Windows:
    """The parts of a text a Doc holds: window i is text[starts[i]:ends[i]] at doc_starts[i]."""

    text: str  # the normalised text, line breaks as spaces
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    doc_starts: tuple[int, ...]

    @property
    def whole(self) -> bool:
        """Tell whether the Doc holds the whole text."""
        return self.starts == (0,) and self.ends == (len(self.text),)

    def to_text(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the Doc's text (inside one window) to a span of the text."""
        i = bisect_right(self.doc_starts, start) - 1
        shift = self.starts[i] - self.doc_starts[i]
        return start + shift, end + shift

    def to_doc(self, start: int, end: int) -> tuple[int, int] | None:
        """Map a span of the text to the Doc's text, None unless it lies inside one window."""
        i = bisect_right(self.starts, start) - 1
        if i < 0 or end > self.ends[i]:
            return None
        shift = self.doc_starts[i] - self.starts[i]
        return start + shift, end + shift


class Prefilter:
    """Find the windows of a text that spaCy must tokenise for the lexicon patterns."""

    def __init__(
        self, tokenizer: Tokenizer, tokens_of: Iterable[Sequence[str]], patterns: list[str]
    ) -> None:
        """`tokens_of` are the lowercase token texts of each of the phrase `patterns`."""
        self.patterns = patterns
        # key -> {(word characters before the key, after it): extent}
        around: dict[str, dict[tuple[str, str], int]] = {}
        for tokens in tokens_of:
            runs = [run for token in tokens for run in _WORD_RUN.findall(token)]
            if not runs:
                raise ValueError(f"pattern {''.join(tokens)!r} has no word character to find")
            at = max(range(len(runs)), key=lambda i: len(runs[i]))
            sides = ("".join(runs[:at]), "".join(runs[at + 1 :]))
            # A match is its tokens with at most one space between two of them.
            extent = sum(map(len, tokens)) + len(tokens) - 1
            shapes = around.setdefault(runs[at], {})
            shapes[sides] = max(shapes.get(sides, 0), extent)
        self.keys = list(around)
        self.reach = [max(around[key].values()) for key in self.keys]
        self.sides = [
            tuple((before, after, extent) for (before, after), extent in around[key].items())
            for key in self.keys
        ]
        self._automaton = ahocorasick_rs.AhoCorasick(self.keys)
        rules = tokenizer.rules or {}
        self.alnum_splits = frozenset(_alnum_splits(rules))
        self._joined = _JOINED - self.alnum_splits
        self.reaching = frozenset(_reaching_pairs(tokenizer, rules))
        if any(c == "," or c.isspace() for pair in self.reaching for c in pair):
            # The glue blanking writes commas and spaces at chunk edges; see `_reaches`.
            raise ValueError("a tokenizer exception reaches over a comma or a blank")

    def windows(self, text: str) -> list[tuple[int, int]] | None:
        """Return the sorted, disjoint windows of `text`, or None to tokenise it whole."""
        if not text.isascii() and _CONTEXT_LOWER.search(text):
            return None
        lower = lowercase(text)
        # "a" for an ASCII letter, "d" for a digit: a key with a letter or digit on each side
        # of one of its ends stands inside a word, unless a digit comes before a letter (a
        # unit: "5mg") or a tokenizer exception splits the pair ("can|not").
        joined = self._joined
        length = len(text)
        reaches = self.reach
        found: list[tuple[int, int]] = []
        for index, start, end in self._automaton.find_matches_as_indexes(lower, overlapping=True):
            # (The pair is looked up lowercased, but must be ASCII: the Kelvin sign is no k.)
            before = lower[start - 1 : start + 1] if start else ""
            if before in joined and text[start - 1 : start + 1].isascii():
                continue
            if lower[end - 1 : end + 1] in joined and text[end - 1 : end + 1].isascii():
                continue
            # The word characters around the key must spell the rest of a pattern: separators
            # may differ, letters and digits may not.
            reach = reaches[index]
            left = right = None
            extent = 0
            for before, after, size in self.sides[index]:
                if before:
                    if left is None:
                        left = _NON_WORD.sub("", lower[max(0, start - reach) : start])
                    if not left.endswith(before):
                        continue
                if after:
                    if right is None:
                        right = _NON_WORD.sub("", lower[end : end + reach])
                    if not right.startswith(after):
                        continue
                extent = max(extent, size)
            if extent:
                found.append((max(0, end - extent), min(length, start + extent)))
        # Widening to chunks commutes with joining overlapping spans: join, widen, join again.
        widened = [self._chunks(text, start, end) for start, end in _joined(found)]
        return _joined([window for window in widened if window is not None])

    def region(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """Return the chunks holding text[start:end], or None if it starts or ends on a blank."""
        if start >= end or text[start].isspace() or text[end - 1].isspace():
            return None
        return self._chunks(text, start, end)

    def _chunks(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """Widen [start, end) to whole chunks (and the neighbours an exception could reach)."""
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            return None
        while start and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        while start >= 2 and self._reaches(text, start - 2, start):
            start -= 2
            while start and not text[start - 1].isspace():
                start -= 1
        while end + 1 < len(text) and self._reaches(text, end - 1, end + 1):
            end += 1
            while end < len(text) and not text[end].isspace():
                end += 1
        return start, end

    def _reaches(self, text: str, before: int, after: int) -> bool:
        """Tell whether an exception could join text[before] and text[after] over one space.

        The glue blanking may turn either character into a comma, which no exception holds.
        """
        return (
            text[before + 1] == " "
            and not text[before].isspace()
            and not text[after].isspace()
            and (text[before], text[after]) in self.reaching
        )


def _joined(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the union of `spans` as sorted, disjoint spans."""
    if not spans:
        return []
    spans.sort()
    joined = [spans[0]]
    for start, end in spans[1:]:
        if start <= joined[-1][1]:
            if end > joined[-1][1]:
                joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def _alnum_splits(rules: dict[str, list[dict[int | str, str]]]) -> set[str]:
    """Return the lowercase letter and digit pairs a tokenizer exception splits ("cannot")."""
    pairs: set[str] = set()
    for key, pieces in rules.items():
        at = 0
        for piece in pieces[:-1]:
            at += len(piece.get(ORTH, piece.get("ORTH", "")))
            pair = key[at - 1 : at + 1].lower()
            if len(pair) == 2 and _alnum(pair[0]) and _alnum(pair[1]):
                pairs.add(pair)
    return pairs


def _reaching_pairs(
    tokenizer: Tokenizer, rules: dict[str, list[dict[int | str, str]]]
) -> set[tuple[str, str]]:
    """Return the character pairs on each side of a token boundary inside an exception.

    spaCy finds exceptions of several affix tokens (":)" is ":" and ")") with a phrase matcher
    over the whole Doc, which looks through the space between two chunks.
    """
    plain = Tokenizer(
        tokenizer.vocab,
        {},
        prefix_search=tokenizer.prefix_search,
        suffix_search=tokenizer.suffix_search,
        infix_finditer=tokenizer.infix_finditer,
        token_match=tokenizer.token_match,
        url_match=tokenizer.url_match,
    )
    pairs: set[tuple[str, str]] = set()
    for key in rules:
        texts = [token.text for token in plain(key)]
        pairs.update((a[-1], b[0]) for a, b in itertools.pairwise(texts))
    return pairs


class WindowTokenizer:
    """Tokenise windows into one Doc, remembering the tokens of each group of chunks.

    spaCy caches the tokens of a chunk only until a tokenizer exception occurs in the text
    ("See #1250" in its tokenizer), which leaves most chunks of most texts uncached; here a
    group (chunks an exception could join, split at single spaces) is tokenised once, on its
    own, which gives the tokens the whole text would.
    """

    def __init__(
        self, tokenize: Callable[[str], Doc], blank: Callable[[str], str], prefilter: Prefilter
    ) -> None:
        self.tokenize = tokenize
        self.blank = blank
        self.prefilter = prefilter
        self._groups: dict[str, tuple[tuple[str, ...], tuple[bool, ...]]] = {}
        self._once: set[int] = set()  # hashes of the groups seen once since the last clear

    def __call__(self, vocab: Vocab, text: str, windows: list[tuple[int, int]]) -> Doc:
        """Return a Doc of the windows of `text`, joined by WINDOW_JOIN."""
        words: list[str] = []
        spaces: list[bool] = []
        groups = self._groups
        reaching = self.prefilter.reaching
        for number, (start, end) in enumerate(windows):
            if number:
                words.append(WINDOW_JOIN)
                spaces.append(False)
            pieces = text[start:end].split(" ")
            group = pieces[0]
            for piece in [*pieces[1:], None]:
                # A single space between two chunks ends a group unless an exception reaches
                # over it; an empty piece is a longer blank, tokenised inside the group.
                if piece is not None and (
                    not piece
                    or not group
                    or group[-1].isspace()
                    or piece[0].isspace()
                    or (group[-1], piece[0]) in reaching
                ):
                    group += " " + piece
                    continue
                tokens = groups.get(group)
                if tokens is None:
                    tokens = self._tokens(group)
                words.extend(tokens[0])
                spaces.extend(tokens[1])
                if piece is not None:
                    spaces[-1] = True
                    group = piece
        return Doc(vocab, words=words, spaces=spaces)

    def _tokens(self, group: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
        doc = self.tokenize(self.blank(group))
        tokens = (tuple(t.text for t in doc), tuple(bool(t.whitespace_) for t in doc))
        key = hash(group)
        if key not in self._once:
            if len(self._once) >= _ONCE_LIMIT:
                self._once.clear()
            self._once.add(key)
            return tokens
        if len(self._groups) >= _GROUP_CACHE_LIMIT:
            self._groups.clear()
        self._groups[group] = tokens
        return tokens


def window_spans(text: str, windows: list[tuple[int, int]]) -> Windows:
    """Return where each window of `text` stands in the Doc that joins them."""
    doc_starts: list[int] = []
    at = 0
    for start, end in windows:
        doc_starts.append(at)
        at += end - start + len(WINDOW_JOIN)
    return Windows(
        text=text,
        starts=tuple(s for s, _ in windows),
        ends=tuple(e for _, e in windows),
        doc_starts=tuple(doc_starts),
    )
