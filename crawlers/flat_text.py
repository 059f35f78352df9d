"""Read a page's text without building its tree, for pages nested too deep for libxml2.

libxml2 stops parsing at 2048 nested elements (256 without `huge_tree`) and keeps what came
before, so a page that wraps its listing in 3,000 `<div>`s would read as empty. This reader
(Python's `html.parser`, which keeps no stack of open elements) reads every text node in
order: `<title>`, `<h1>`, the JSON-LD scripts, and the text, one block per line, without
scripts and styles. It knows no `<main>`, and judges no boilerplate: a flat page's text is all
of it. About 10x slower than lxml, so only used when the tree failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements whose content is never text (html.parser reads it raw, up to the end tag).
RAW_TAGS = frozenset({"script", "style"})
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol",
        "p", "pre", "section", "table", "tr", "ul", "td", "th",
    }
)  # fmt: skip


@dataclass
class FlatPage:
    """A page read flat: its `<title>`, first `<h1>`, JSON-LD scripts and text."""

    title: str = ""
    h1: str = ""
    json_ld: list[str] = field(default_factory=list)
    text: str = ""


class _FlatReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = FlatPage()
        self.chunks: list[str] = []
        self.raw: str | None = None  # the raw element being read, if any
        self.json_ld = False
        self.script: list[str] = []
        self.in_title = self.in_h1 = False
        self.title: list[str] = []
        self.h1: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in RAW_TAGS:
            self.raw = tag
            kind = dict(attrs).get("type") or ""
            self.json_ld = tag == "script" and "ld+json" in kind.lower()
            self.script = []
        elif tag == "title":
            self.in_title = True
        elif tag == "h1" and not self.h1:
            self.in_h1 = True
        if tag in BLOCK_TAGS or tag == "body":
            # An unclosed <title> or <h1> ends where the next block starts.
            self.in_title = False
            self.in_h1 = self.in_h1 and tag == "h1"
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw:
            if self.json_ld:
                self.page.json_ld.append("".join(self.script))
            self.raw, self.json_ld = None, False
        elif tag == "title":
            self.in_title = False
        elif tag == "h1":
            self.in_h1 = False
        if tag in BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self.raw is not None:
            if self.json_ld:
                self.script.append(data)
            return
        if self.in_title:
            self.title.append(data)
            return
        if self.in_h1:
            self.h1.append(data)
        self.chunks.append(data)


def read_flat(text: str) -> FlatPage:
    """Return the title, first `<h1>`, JSON-LD scripts and text of an HTML document."""
    reader = _FlatReader()
    reader.feed(text)
    reader.close()
    page = reader.page
    page.title = " ".join("".join(reader.title).split())
    page.h1 = " ".join("".join(reader.h1).split())
    lines = (" ".join(line.split()) for line in "".join(reader.chunks).split("\n"))
    page.text = "\n".join(line for line in lines if line)
    return page
