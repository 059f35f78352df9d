"""Undo obfuscation of listing text while keeping a map back to the original offsets.

Three passes, each a piecewise offset map onto the previous text:
1. characters: NFKC (full-width letters), drop format characters (zero-width), fold dashes;
2. spaced single letters ("m e t o n i t a z e n e") are joined;
3. one-for-one substitutions inside words: homoglyphs in mixed-script words, and leetspeak
   ("F3ntanyl"), the latter only when the result is a lexicon word, so that "3-MMC",
   "4en" or "M30" survive.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

OBFUSCATION_KINDS: tuple[str, ...] = ("zero_width", "spaced_letters", "homoglyph", "leetspeak")

_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
# Characters that show as nothing or as a blank but are letters or symbols to Unicode (Hangul
# fillers, the blank Braille pattern, the combining grapheme joiner): inside a word they hide
# it like a zero-width space.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u034f")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d")
_GREEK_PREFIX = {"\u03b1": "alpha", "\u03b2": "beta"}  # Greek alpha in "alpha-PVP"
_LEET: dict[str, tuple[str, ...]] = {
    "0": ("o",),
    "1": ("i", "l"),
    "3": ("e",),
    "4": ("a",),
    "5": ("s",),
    "7": ("t",),
    "@": ("a",),
    "$": ("s",),
}
# Cyrillic and Greek letters that look like Latin ones; applied only inside words that also
# contain Latin letters, so Russian or Greek text is left alone.
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅαεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwABEKMHOPCTXIJSaeikvoptuxABEZHIKMNOPTYX",
)
_MAX_LEET_VARIANTS = 64
# Leet characters and the letters they stand for, as one: a word can spell a vocabulary word
# in leetspeak only if both have the same shape with these folded ("f3ntanyl", "fentanyl").
_LEET_FOLD = str.maketrans(dict.fromkeys("".join(_LEET) + "".join(sum(_LEET.values(), ())), "*"))
_UNLEET_CACHE_LIMIT = 100_000
_MIN_LEET_WORD = 4

# Runs of characters outside printable ASCII (control characters too: NUL, BEL, DEL), with
# the character before them, which combining marks attach to.
_NON_ASCII = re.compile(r"[\x00-\x7f]?[^\t\n\r\x20-\x7e]+")
_SPACED = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z](?P<sep> {1,2}|[.*_\-])[A-Za-z]"
    r"(?:(?P=sep)[A-Za-z]){2,}(?![A-Za-z0-9])"
)
_MIXED_SCRIPT = re.compile(
    r"[A-Za-z][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][A-Za-z]"
)
# A leet character beside a letter; starting on the character class lets the engine skip
# straight to the digits (six times faster than "[A-Za-z][0-9...]|[0-9...][A-Za-z]").
_LEET_SEED = re.compile(r"[013457@$](?:(?<=[A-Za-z].)|(?=[A-Za-z]))")
_WORD_TAIL = re.compile(r"[^\W_]*")
_LEET_WORD_TAIL = re.compile(r"[A-Za-z0-9@$]*")
# The leet shape of any ASCII word, lowercased, in one str.translate of the whole text: a
# word's shape is then a slice, and most words with a digit are dismissed before any call.
_LEET_SHAPE = str.maketrans(
    {c: c.lower().translate(_LEET_FOLD) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    | {c: "*" for c in "".join(_LEET) + "".join(sum(_LEET.values(), ()))}
)
# A necessary part of every _SPACED match (separator, letter, separator, letter, separator),
# starting on a character class the engine skips to: most texts have none.
_SPACED_HINT = re.compile(r"[ .*_\-]{1,2}[A-Za-z][ .*_\-]{1,2}[A-Za-z][ .*_\-]")


@dataclass(frozen=True, slots=True)
class Edit:
    """An obfuscation undone, as a span of the original text."""

    start: int
    end: int
    kind: str


@dataclass(slots=True)
class OffsetMap:
    """Piecewise map from a derived text back to the text it was derived from."""

    starts: list[int] = field(default_factory=list)  # piece start in the derived text
    src_starts: list[int] = field(default_factory=list)
    src_ends: list[int] = field(default_factory=list)
    identity: list[bool] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    length: int = 0

    def copy(self, source: str, start: int, end: int) -> None:
        """Append source[start:end] unchanged."""
        if end <= start:
            return
        if self.identity and self.identity[-1] and self.src_ends[-1] == start:
            # Extend the previous copy: one piece per unchanged stretch keeps lookups short.
            self.src_ends[-1] = end
            self.parts.append(source[start:end])
            self.length += end - start
            return
        self._piece(source[start:end], start, end, identity=True)

    def replace(self, start: int, end: int, text: str) -> None:
        """Append `text` in place of source[start:end] (nothing when `text` is empty)."""
        if text:
            self._piece(text, start, end, identity=False)

    def _piece(self, text: str, start: int, end: int, *, identity: bool) -> None:
        self.starts.append(self.length)
        self.src_starts.append(start)
        self.src_ends.append(end)
        self.identity.append(identity)
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        """Return the derived text."""
        return "".join(self.parts)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map the derived span [start, end) to a span of the source."""
        src_start = self._point(start, as_end=False)
        src_end = self._point(end, as_end=True) if end > start else src_start
        return src_start, max(src_start, src_end)

    def _point(self, pos: int, *, as_end: bool) -> int:
        if not self.starts:
            return 0
        char = pos - 1 if as_end else pos
        if char < 0:
            char = 0
        elif char >= self.length:
            char = self.length - 1
        i = bisect_right(self.starts, char) - 1
        if self.identity[i]:
            return self.src_starts[i] + (char - self.starts[i]) + (1 if as_end else 0)
        return self.src_ends[i] if as_end else self.src_starts[i]


@dataclass(frozen=True, slots=True)
class Normalised:
    """The normalised text, the obfuscations undone, and the way back to the original."""

    original: str
    text: str
    edits: tuple[Edit, ...]  # sorted by start
    maps: tuple[OffsetMap, ...]  # innermost (closest to the original) first
    _edit_starts: list[int] = field(init=False, repr=False, compare=False)
    _longest_edit: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_edit_starts", [e.start for e in self.edits])
        object.__setattr__(
            self, "_longest_edit", max((e.end - e.start for e in self.edits), default=0)
        )

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the normalised text to a span of the original text."""
        for offset_map in reversed(self.maps):
            start, end = offset_map.span(start, end)
        return start, end

    def edit_kinds(self, start: int, end: int) -> tuple[str, ...]:
        """Return the kinds of obfuscation inside the original span [start, end)."""
        kinds: set[str] = set()
        # Edits are sorted by start; look back only as far as the longest edit reaches.
        i = bisect_left(self._edit_starts, end)
        while i > 0 and self.edits[i - 1].start > start - self._longest_edit:
            i -= 1
            if self.edits[i].end > start:
                kinds.add(self.edits[i].kind)
        return tuple(k for k in OBFUSCATION_KINDS if k in kinds)


class Normaliser:
    """Normalise listing text; `vocabulary` holds the lowercase words leetspeak may turn into."""

    def __init__(self, vocabulary: Collection[str]) -> None:
        self.vocabulary = frozenset(w.lower() for w in vocabulary)
        self._longest = max(map(len, self.vocabulary), default=0)
        self._leet_shapes = frozenset(w.translate(_LEET_FOLD) for w in self.vocabulary)
        # Words with digits repeat from page to page ("1g", "5mg", "24h"): remember each one.
        self._unleet_cache: dict[str, str | None] = {}

    def __call__(self, text: str) -> Normalised:
        maps: list[OffsetMap] = []
        edits: list[Edit] = []
        current = text
        if not text.isascii() or not _printable_lines(text):
            char_map = self._characters(text, edits)
            maps.append(char_map)
            current = char_map.text()
        spaced = self._spaced_letters(current)
        if spaced is not None:
            spaced_map, runs = spaced
            edits.extend(Edit(*_through(maps, s, e), "spaced_letters") for s, e in runs)
            maps.append(spaced_map)
            current = spaced_map.text()
        current = self._substitute(current, maps, edits)
        edits.sort(key=lambda e: (e.start, e.end))
        return Normalised(original=text, text=current, edits=tuple(edits), maps=tuple(maps))

    def _characters(self, text: str, edits: list[Edit]) -> OffsetMap:
        out = OffsetMap()
        done = 0
        for match in _NON_ASCII.finditer(text):
            out.copy(text, done, match.start())
            pending: tuple[str, int, int] | None = None  # text, source start, source end
            i = match.start()
            while i < match.end():
                ch = text[i]
                category = unicodedata.category(ch)
                i += 1
                if category == "Mn":
                    if pending is not None:
                        pending = (pending[0], pending[1], i)
                    continue
                if pending is not None:
                    _emit(out, text, pending)
                    pending = None
                if ch in "\t\n\r":
                    # The ASCII character before a run: a line break stays one (context
                    # scopes its cues to lines), though Unicode files it as a control.
                    out.copy(text, i - 1, i)
                    continue
                if category in ("Cf", "Cc") or ch in _INVISIBLE:
                    run_start = i - 1
                    while i < len(text) and is_invisible(text[i]):
                        i += 1
                    inside = _between_word_chars(text, run_start, i)
                    if inside and any(
                        c in _ZERO_WIDTH or c in _INVISIBLE or unicodedata.category(c) == "Cc"
                        for c in text[run_start:i]
                    ):
                        edits.append(Edit(run_start, i, "zero_width"))
                    elif not inside and category == "Cc":
                        out.replace(run_start, i, " ")  # a control character between words
                    continue
                if category == "Zs" and self._joins_word(text, i - 1):
                    edits.append(Edit(i - 1, i, "zero_width"))  # "fen\u00a0tanyl"
                    continue
                if ch in _DASHES:
                    replacement = "-"
                elif ch in _GREEK_PREFIX and _greek_prefix(text, i - 1):
                    replacement = _GREEK_PREFIX[ch]
                else:
                    replacement = _fold_accent(unicodedata.normalize("NFKC", ch))
                pending = (replacement, i - 1, i)
            if pending is not None:
                _emit(out, text, pending)
            done = match.end()
        out.copy(text, done, len(text))
        return out

    def _joins_word(self, text: str, i: int) -> bool:
        """Return whether deleting the blank at text[i] makes a lexicon word of its neighbours."""
        if not _between_word_chars(text, i, i + 1):
            return False
        start, end = i, i + 1
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        return (text[start:i] + text[i + 1 : end]).lower() in self.vocabulary

    def _spaced_letters(self, text: str) -> tuple[OffsetMap, list[tuple[int, int]]] | None:
        if _SPACED_HINT.search(text) is None:
            return None
        matches = list(_SPACED.finditer(text))
        if not matches:
            return None
        out = OffsetMap()
        done = 0
        for match in matches:
            out.copy(text, done, match.start())
            step = len(match.group("sep")) + 1
            for i in range(match.start(), match.end(), step):
                out.copy(text, i, i + 1)
            done = match.end()
        out.copy(text, done, len(text))
        return out, [match.span() for match in matches]

    def _substitute(self, text: str, maps: list[OffsetMap], edits: list[Edit]) -> str:
        chars: list[str] | None = None
        word_end = -1
        # A mixed-script word holds a Greek or Cyrillic letter: none in ASCII text.
        for match in () if text.isascii() else _MIXED_SCRIPT.finditer(text):
            if match.start() < word_end:
                continue  # another seed in a word already handled
            start, word_end = _word_bounds(text, match.start(), _WORD_TAIL, str.isalnum)
            word = text[start:word_end]
            folded = word.translate(_HOMOGLYPHS)
            if folded != word:
                chars = chars if chars is not None else list(text)
                chars[start:word_end] = folded
                edits.append(Edit(*_through(maps, start, word_end), "homoglyph"))
        if chars is not None:
            text = "".join(chars)
        word_end = -1
        tail = _LEET_WORD_TAIL.match
        reverse = shapes = ""
        length = len(text)
        for match in _LEET_SEED.finditer(text):
            seed = match.start()
            if seed < word_end:
                continue
            if not reverse:
                # The word's start is the end of the same run in the reversed text.
                reverse, shapes = text[::-1], text.translate(_LEET_SHAPE)
            back, ahead = tail(reverse, length - seed), tail(text, seed)
            if back is None or ahead is None:
                continue  # never: the pattern matches the empty string
            start, word_end = length - back.end(), ahead.end()
            # What _unleet_word rejects first, on slices (a novel-vocabulary page has hundreds).
            if (
                not _MIN_LEET_WORD <= word_end - start <= self._longest
                or text[start] in "@$"
                or shapes[start:word_end] not in self._leet_shapes
            ):
                continue
            replacement = self._unleet(text[start:word_end])
            if replacement is not None:
                chars = chars if chars is not None else list(text)
                chars[start:word_end] = replacement
                edits.append(Edit(*_through(maps, start, word_end), "leetspeak"))
        return "".join(chars) if chars is not None else text

    def _unleet(self, word: str) -> str | None:
        cache = self._unleet_cache
        if word in cache:
            return cache[word]
        if len(cache) >= _UNLEET_CACHE_LIMIT:
            cache.clear()
        result = cache[word] = self._unleet_word(word)
        return result

    def _unleet_word(self, word: str) -> str | None:
        lower = word.lower()
        if not _MIN_LEET_WORD <= len(word) <= self._longest or lower in self.vocabulary:
            return None
        if word[0] in "@$":
            return None  # a handle ("@npp_lab") or an amount ("$300"), not a disguised name
        if lower.translate(_LEET_FOLD) not in self._leet_shapes:
            return None  # no variant below can be a vocabulary word
        options = [_LEET.get(ch, (ch,)) for ch in lower]
        for candidate in itertools.islice(itertools.product(*options), _MAX_LEET_VARIANTS):
            joined = "".join(candidate)
            if joined != lower and joined in self.vocabulary:
                return "".join(
                    new if old in _LEET else old for old, new in zip(word, joined, strict=True)
                )
        return None


def is_invisible(ch: str) -> bool:
    """Tell whether a character shows as nothing: a format (Cf) or control (Cc) character, a
    variation selector, or a blank letter. The one rule of what hides text, for nlp and for
    the pages and exports that show it."""
    if ch in _INVISIBLE:
        return True
    code = ord(ch)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return True  # variation selectors (Mn to Unicode)
    return unicodedata.category(ch) in ("Cf", "Cc")


def _printable_lines(text: str) -> bool:
    """Tell whether ASCII `text` holds no control character but tabs and line breaks."""
    for char in "\t\n\r":
        if char in text:
            text = text.replace(char, "")
    return text.isprintable()


def _fold_accent(char: str) -> str:
    """Return a Latin letter without its accent ("ñ" -> "n"): "Xañax" is Xanax."""
    if len(char) != 1 or char.isascii() or not char.isalpha():
        return char
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isascii() else char


def _emit(out: OffsetMap, source: str, pending: tuple[str, int, int]) -> None:
    replacement, start, end = pending
    if end - start == 1 and replacement == source[start]:
        out.copy(source, start, end)
    else:
        out.replace(start, end, replacement)


def _between_word_chars(text: str, start: int, end: int) -> bool:
    """Return whether text[start:end] has a letter or digit on both sides."""
    return start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum()


def _greek_prefix(text: str, i: int) -> bool:
    before_ok = i == 0 or not ("\u0370" <= text[i - 1] <= "\u03ff")
    after = text[i + 1] if i + 1 < len(text) else ""
    return before_ok and (after == "-" or (after.isascii() and after.isalpha()))


def _word_bounds(
    text: str, seed: int, tail: re.Pattern[str], is_word: Callable[[str], bool]
) -> tuple[int, int]:
    end = tail.match(text, seed)
    start = seed
    while start > 0 and is_word(text[start - 1]):
        start -= 1
    return start, end.end() if end is not None else seed


def _through(maps: list[OffsetMap], start: int, end: int) -> tuple[int, int]:
    for offset_map in reversed(maps):
        start, end = offset_map.span(start, end)
    return start, end
