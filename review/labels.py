"""How internal ids read to people: substance classes as words, for pages and the digest."""

from __future__ import annotations

# Words of a class id that are not written in lower case.
_WORDS = {"nps": "NPS"}


def class_label(substance_class: str) -> str:
    """Return a substance class id as words: ``synthetic_cathinone`` reads "synthetic cathinone"."""
    words = substance_class.replace("_", " ").replace("-", " ").split()
    return " ".join(_WORDS.get(word, word) for word in words)
