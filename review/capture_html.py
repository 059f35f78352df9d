"""Turn a captured page into inert HTML: an allowlist of tags, no script, no link that works.

The result is shown in an ``<iframe sandbox>`` and served with a ``sandbox`` CSP that loads
nothing; this module is the first of those three walls. Text is kept, so an analyst can read
the page as it was; structure is kept where it helps reading (headings, lists, tables).
"""

from __future__ import annotations

import codecs
import re

import lxml.etree
import lxml.html
from markupsafe import Markup, escape

# Elements whose content is code, media or controls: removed with everything inside them.
DROPPED = frozenset(
    {
        "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object",
        "embed", "applet", "svg", "math", "link", "meta", "base", "head", "title", "input",
        "select", "textarea", "option", "optgroup", "datalist", "video", "audio", "source",
        "track", "canvas", "map", "area", "portal", "param", "dialog", "slot", "button",
    }
)  # fmt: skip
# Elements kept (without their attributes, but for the few below); any other is unwrapped.
KEPT = frozenset(
    {
        "p", "div", "span", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
        "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
        "b", "strong", "i", "em", "u", "s", "small", "sub", "sup", "mark", "code", "pre",
        "kbd", "samp", "blockquote", "q", "cite", "abbr", "time", "address", "article",
        "section", "header", "footer", "main", "nav", "aside", "figure", "figcaption",
        "details", "summary", "a", "img", "del", "ins", "label", "fieldset", "legend",
    }
)  # fmt: skip
KEPT_ATTRIBUTES = frozenset({"title", "colspan", "rowspan", "lang", "dir"})
# Characters XML (and so lxml) refuses in text and attribute values.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_CHARSET = re.compile(r"charset=\"?([A-Za-z0-9_.:-]+)", re.I)
MAX_TEXT_CHARS = 2_000_000


def inert_page(payload: bytes, content_type: str, *, url: str) -> str:
    """Return a captured payload as a complete, inert HTML document."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in ("", "text/html", "application/xhtml+xml"):
        body = _clean_html(payload, content_type)
    elif media_type.startswith("text/") or media_type.endswith(("json", "xml")):
        text = payload.decode(_charset(content_type) or "utf-8", errors="replace")
        body = Markup("<pre>{}</pre>").format(text[:MAX_TEXT_CHARS])
    else:
        body = Markup("<p>Not shown: the capture is {}, not a page.</p>").format(media_type)
    page = Markup(
        '<!doctype html><html><head><meta charset="utf-8">'
        "<title>Captured page: {}</title></head><body>{}</body></html>"
    )
    return str(page.format(url, body))


def _charset(content_type: str) -> str | None:
    match = _CHARSET.search(content_type)
    if match is None:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def _clean_html(payload: bytes, content_type: str) -> Markup:
    if not payload.strip():
        return Markup("<p>The capture is empty.</p>")
    charset = _charset(content_type)
    parser = lxml.html.HTMLParser(encoding=charset, remove_comments=True, remove_pis=True)
    try:
        document = lxml.html.document_fromstring(payload, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        text = payload.decode(charset or "utf-8", errors="replace")
        return Markup("<pre>{}</pre>").format(text[:MAX_TEXT_CHARS])
    body = document.find("body")
    root = body if body is not None else document
    for element in list(root.iter()):
        _clean_element(element)
    inner = "".join(lxml.html.tostring(child, encoding="unicode", method="html") for child in root)
    return Markup(escape(root.text or "")) + Markup(inner)


def _clean_element(element: lxml.html.HtmlElement) -> None:
    if not isinstance(element.tag, str):  # a comment or processing instruction
        if element.getparent() is not None:
            element.drop_tree()
        return
    tag = element.tag.lower()
    if tag in ("body", "html"):
        element.attrib.clear()
        return
    if element.getparent() is None:
        return  # already removed with an ancestor
    if tag in DROPPED:
        element.drop_tree()
        return
    if tag not in KEPT:
        element.drop_tag()
        return
    href = element.get("href") if tag == "a" else None
    alt = element.get("alt") if tag == "img" else None
    for name in list(element.attrib):
        if name.lower() not in KEPT_ATTRIBUTES:
            del element.attrib[name]
    if tag == "a" and href:
        # The link is shown, never followed: the sandbox page has no working link at all.
        element.set("title", _xml_text(f"link to {href}"[:2000]))
    if tag == "img":
        element.tag = "span"
        element.text = _xml_text(f"[image{': ' + alt if alt else ''}]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
