"""Site-search URLs of a source: its templates filled with keywords or the lexicon's names.

`{keyword}` is replaced by the keyword percent-encoded (UTF-8, nothing kept unescaped), which is
right in a path segment and in a query value alike. Keywords are the source's own list or, with
`use_lexicon`, the canonical names of the concepts of the nlp lexicon, in its order; duplicates
(ignoring case) are dropped and the first `max_keywords` used. The result pages are index pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import quote

from crawlers.sources import KEYWORD, Search
from nlp.lexicon import load_lexicon


def lexicon_names() -> list[str]:
    """Return the canonical name of every concept of the shipped lexicon."""
    return [concept.name for concept in load_lexicon()]


def search_keywords(
    search: Search, names: Callable[[], Iterable[str]] = lexicon_names
) -> list[str]:
    """Return the keywords a source searches for, at most `max_keywords` of them."""
    candidates = search.keywords if not search.use_lexicon else tuple(names())
    keywords: dict[str, str] = {}
    for keyword in candidates:
        keyword = keyword.strip()
        if keyword and keyword.casefold() not in keywords:
            keywords[keyword.casefold()] = keyword
    return list(keywords.values())[: search.max_keywords]


def search_urls(search: Search, names: Callable[[], Iterable[str]] = lexicon_names) -> list[str]:
    """Return the search URLs: every template with every keyword."""
    if not search.url_templates:
        return []
    return [
        template.replace(KEYWORD, quote(keyword, safe=""))
        for keyword in search_keywords(search, names)
        for template in search.url_templates
    ]
