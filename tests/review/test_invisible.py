"""Invisible characters: dropped from titles in exports, marked one for one in evidence."""

from __future__ import annotations

import pytest

from review.invisible import INVISIBLE_MARK, invisible_count, mark_invisible, visible_text


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("fen\u200btanyl", "fentanyl"),  # zero-width space
        ("fen\u200c\u200dtanyl\u2060", "fentanyl"),  # non-joiner, joiner, word joiner
        ("\ufeffCarfentanil", "Carfentanil"),  # byte-order mark
        ("car\u00adfentanil", "carfentanil"),  # soft hyphen
        ("abc\u202edcba\u202c", "abcdcba"),  # right-to-left override and its end
        ("pro\u3164to", "proto"),  # Hangul filler
        ("\u2800nitazene", "nitazene"),  # blank Braille pattern
        ("etizolam\ufe0f", "etizolam"),  # variation selector
        ("a\U000e0041b", "ab"),  # tag character
        ("a\x00b\x07c", "abc"),  # controls
        ("  two\t\nlines\u2028here\u00a0 ", "two lines here"),  # blanks fold to one space
        ("Fentanyl powder 99%", "Fentanyl powder 99%"),
        ("", ""),
    ],
)
def test_visible_text_drops_what_a_reader_cannot_see(written: str, shown: str) -> None:
    assert visible_text(written) == shown


def test_mark_invisible_keeps_offsets_and_line_breaks() -> None:
    written = "Buy fen\u200btanyl\nWickr:\u202e chemking\tnow"

    marked = mark_invisible(written)

    assert len(marked) == len(written)
    assert marked == f"Buy fen{INVISIBLE_MARK}tanyl\nWickr:{INVISIBLE_MARK} chemking\tnow"
    assert invisible_count(written) == 2
    assert mark_invisible("plain text") == "plain text"
