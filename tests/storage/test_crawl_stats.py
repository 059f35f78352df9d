"""The crawl-stats schema: every key a documented constant, spelled nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storage import crawl_stats

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("crawlers", "nlp", "storage", "review", "synthwatch")
LITERAL = re.compile(r"""["']synthwatch/[a-z_]""")


def keys() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(crawl_stats).items()
        if name.isupper() and isinstance(value, str) and value.startswith(crawl_stats.NAMESPACE)
    }


def documented_as(key: str) -> str:
    """Return how the docstring names a key: a prefix by its `<placeholder>`."""
    return f"`{key}<" if key.endswith("/") else f"`{key}`"


def test_every_key_constant_is_documented() -> None:
    documented = crawl_stats.__doc__ or ""
    found = keys()
    undocumented = sorted(
        key
        for key in found.values()
        if key != crawl_stats.NAMESPACE and documented_as(key) not in documented
    )

    assert len(found) > 30
    assert undocumented == []


def test_every_reason_is_documented() -> None:
    documented = crawl_stats.__doc__ or ""
    reasons = (*crawl_stats.REFUSAL_REASONS, *crawl_stats.ERROR_REASONS)

    assert [reason for reason in reasons if f"`{reason}`" not in documented] == []


@pytest.mark.parametrize(
    ("key", "refusal"),
    [
        ("synthwatch/refused/robots", True),
        ("synthwatch/refused_urls/robots", False),
        ("synthwatch/refused/robots/extra", False),
        ("synthwatch/blocked", False),
    ],
)
def test_a_refusal_key_counts_one_reason(key: str, refusal: bool) -> None:
    assert crawl_stats.is_refusal_key(key) is refusal
    assert crawl_stats.refused_key("robots") == "synthwatch/refused/robots"
    assert crawl_stats.error_key("http_503") == "synthwatch/errors/http_503"


def test_no_module_spells_a_stats_key_but_the_schema() -> None:
    home = Path(crawl_stats.__file__).resolve()
    copies = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for package in PRODUCT
        for path in sorted((REPO / package).rglob("*.py"))
        if path.resolve() != home
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LITERAL.search(line)
    ]

    assert copies == []
