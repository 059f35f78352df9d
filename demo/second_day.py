"""The marketplace's second day: the pages that changed since the first crawl, and how.

`synthwatch demo` crawls the forum a second time with the server switched to its second day, so
one listing has two versions to compare (the review app shows the difference). Each change
replaces every occurrence of a text on the first day's page; a test checks each one is there.
"""

from __future__ import annotations

# URL path -> (old text, new text) replacements, applied in order.
CHANGES: dict[str, tuple[tuple[str, str], ...]] = {
    "/forum/": (
        (
            "ISOTONITAZENE — direct from the lab, best price</a></td><td>Marketplace</td>"
            "<td>2</td><td>2025-03-18</td>",
            "ISOTONITAZENE — direct from the lab, prices cut</a></td><td>Marketplace</td>"
            "<td>3</td><td>2025-03-19</td>",
        ),
    ),
    "/forum/thread/3106.html": (
        (
            "ISOTONITAZENE — direct from the lab, best price",
            "ISOTONITAZENE — direct from the lab, prices cut",
        ),
        (
            "Prices: 1 g = US$ 150, 5 g = US$ 600, 10 g = US$ 1,050.",
            "New prices: 1 g = US$ 120, 5 g = US$ 480, 10 g = US$ 900.",
        ),
        (
            '<p class="reply">',
            '<article class="post" id="post-4">\n'
            '<p class="post-head"><span class="author">nightjar_supply</span> · '
            '<time class="posted" datetime="2025-03-19T20:30">2025-03-19 20:30</time></p>\n'
            '<div class="body">\n'
            "<p>Prices cut in the first post. 25 g packs back in stock.</p>\n"
            "</div>\n"
            "</article>\n"
            '<p class="reply">',
        ),
    ),
}


def changed_paths() -> frozenset[str]:
    """Return the URL paths whose page differs on the second day."""
    return frozenset(CHANGES)


def second_day_body(path: str, body: bytes) -> bytes:
    """Return the page at ``path`` as the second day serves it (unchanged when not listed)."""
    changes = CHANGES.get(path)
    if not changes:
        return body
    text = body.decode("utf-8")
    for old, new in changes:
        text = text.replace(old, new)
    return text.encode("utf-8")
