"""docs/sources.md documents every key of a source, and its worked example is a valid source."""

from __future__ import annotations

import re
import textwrap

import pytest

from crawlers.source_parser import (
    DISCOVERY_KEYS,
    FIELD_NAMES,
    LIMITS_KEYS,
    POLITENESS_KEYS,
    SEARCH_KEYS,
    SOURCE_KEYS,
)
from crawlers.sources import parse_sources, scope_fingerprint
from tests.crawlers.harness import REPO

DOC = REPO / "docs" / "sources.md"


def documented_keys(table: str) -> set[str]:
    """Return the keys in the first column of the table under a heading."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## {table}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


@pytest.mark.parametrize(
    ("heading", "keys"),
    [
        (
            "Keys of `[[source]]`",
            SOURCE_KEYS - {"discovery", "search", "fields", "politeness", "limits"},
        ),
        ("`[source.discovery]`", DISCOVERY_KEYS),
        ("`[source.search]`", SEARCH_KEYS),
        ("`[source.fields]`", set(FIELD_NAMES)),
        ("`[source.politeness]`", POLITENESS_KEYS),
        ("`[source.limits]`", LIMITS_KEYS),
    ],
)
def test_every_key_is_documented(heading: str, keys: set[str]) -> None:
    assert documented_keys(heading) == set(keys)


def test_the_worked_example_is_a_valid_source() -> None:
    text = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)

    (source,) = parse_sources(textwrap.dedent(block), str(DOC))

    assert source.id == "reagent-depot"
    assert source.search.use_lexicon and source.politeness.download_delay == 5.0
    assert len(scope_fingerprint(source)) == 64
