from __future__ import annotations

from crawlers.search import search_keywords, search_urls
from crawlers.sources import Search
from nlp import load_lexicon

TEMPLATES = ("https://shop.example/search?q={keyword}", "https://shop.example/tag/{keyword}/")


def test_each_template_is_filled_with_each_keyword_percent_encoded() -> None:
    search = Search(url_templates=TEMPLATES, keywords=("4-ANPP", "alpha PVP", "ß/x&y"))

    assert search_urls(search) == [
        "https://shop.example/search?q=4-ANPP",
        "https://shop.example/tag/4-ANPP/",
        "https://shop.example/search?q=alpha%20PVP",
        "https://shop.example/tag/alpha%20PVP/",
        "https://shop.example/search?q=%C3%9F%2Fx%26y",
        "https://shop.example/tag/%C3%9F%2Fx%26y/",
    ]


def test_keywords_are_deduplicated_and_capped() -> None:
    search = Search(
        url_templates=TEMPLATES, keywords=("Etizolam", "etizolam", "Bromazolam", "U-47700"),
        max_keywords=2,
    )  # fmt: skip

    assert search_keywords(search) == ["Etizolam", "Bromazolam"]


def test_the_lexicon_gives_canonical_names() -> None:
    search = Search(url_templates=TEMPLATES[:1], use_lexicon=True, max_keywords=3)
    names = [concept.name for concept in load_lexicon()]

    assert search_keywords(search) == names[:3]
    assert search_keywords(search, lambda: ["A", "a", "B"]) == ["A", "B"]


def test_a_source_without_search_searches_nothing() -> None:
    assert search_urls(Search()) == []
