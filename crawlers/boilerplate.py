"""Drop a page's boilerplate (menus, sidebars, banners, footers) before its text is analysed.

One market sidebar word ("Testing kits", a category list naming every drug) must not speak for
the listing beside it. A block is boilerplate when:
- it is an `<aside>`, or a `<header>` without the page's `<h1>`;
- its ARIA role is navigation, complementary, banner, contentinfo, menu, menubar or search;
- a class or id token starts with a boilerplate name (`BOILERPLATE_NAMES`: sidebar, menu,
  nav, footer, breadcrumb, cookie, newsletter, related, widget, share, social);
- it is a search or filter form (`SEARCH_NAMES` in its action or its controls' names);
- or it is mostly link text (jusText's idea): at least `MIN_LINKS` links holding at least
  `MAX_LINK_DENSITY` of its text, and no price outside its links (a price table stays).
A block that lost to these rules at least `ORPHAN_SHARE` times the little text it keeps (under
`ORPHAN_CHARS`), a heading among it and no `<h1>`, held the menu's heading: it goes too.
The tag, role, class and form rules never drop a block holding more than half the page's
text: that is a wrapper (`<div class="content has-sidebar">`), not a sidebar. Blocks are
judged bottom-up, each on the text its kept children leave, so a wrapper of a dropped menu
and a description keeps the description. `nav`, `footer`, scripts and styles are dropped
before this step (`crawlers.html_text`).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

BOILERPLATE_ROLES = frozenset(
    {"navigation", "complementary", "banner", "contentinfo", "menu", "menubar", "search"}
)
# A class or id token (split at anything not a letter or digit) starting with one of these.
BOILERPLATE_NAMES = re.compile(
    r"(?<![a-z0-9])(?:(?:sidebar|menu|footer|breadcrumb|cookie|newsletter|related|widget|share"
    r"|social)|nav(?:bar|igation|menu|item|link|s)?(?![a-z0-9]))"
)
# Search and filter forms: their country and category options are the site's, not the page's.
SEARCH_NAMES = re.compile(r"(?<![a-z0-9])(?:search|filter|query|q(?![a-z0-9]))")
# Blocks judged by their link density; inline elements and cells belong to their block.
DENSITY_TAGS = frozenset(
    {"div", "ul", "ol", "dl", "table", "section", "details", "menu", "p", "form", "center"}
)
NAMED_TAGS = frozenset({"aside", "header", "form"})
MIN_LINKS = 3
MAX_LINK_DENSITY = 0.7
# A block left with less than this, after losing this many times as much, was the menu's.
ORPHAN_CHARS = 40
ORPHAN_SHARE = 2
MENU_HEADING = etree.XPath(
    "boolean(.//*[self::h2 or self::h3 or self::h4 or self::h5 or self::h6]) and not(.//h1)"
)
# Most of a page's text: a block this big is the page, whatever its class says.
MOST_OF_PAGE = 0.5
# A price outside links ("Price: $35", "From: 500 $", "USD 450 / kg").
PRICE = re.compile(
    r"[$€£¥฿₿]\s?\d|\d\s?[$€£¥฿₿]|\b(?:usd|eur|gbp|btc|xmr|ltc)\b\s?\d|\d\s?(?:usd|eur|gbp)\b",
    re.I,
)


class _Block:
    """What a block leaves once its boilerplate children are dropped."""

    __slots__ = ("chars", "dropped", "link_chars", "links", "prices")

    def __init__(self, dropped: int = 0) -> None:
        self.chars = self.link_chars = self.links = self.prices = 0
        self.dropped = dropped

    def add_text(self, text: str | None, in_link: bool) -> None:
        if not text or not (text := text.strip()):
            return
        self.chars += len(text)
        if in_link:
            self.link_chars += len(text)
        elif PRICE.search(text):
            self.prices += 1

    def add(self, other: _Block) -> None:
        self.chars += other.chars
        self.link_chars += other.link_chars
        self.links += other.links
        self.prices += other.prices
        self.dropped += other.dropped


def strip_boilerplate(container: Any) -> int | None:
    """Drop the boilerplate blocks inside `container`; return how many were dropped.

    None says the markup was nested too deep to judge (past Python's recursion limit):
    nothing was dropped, and the caller notes that the page kept its boilerplate.
    """
    page_chars = len(container.text_content().strip()) or 1
    dropped: list[Any] = []
    try:
        for child in container:
            _measure(child, False, page_chars, dropped)
    except RecursionError:
        # Pathologically deep markup: better the whole text than a half-judged one.
        return None
    for element in dropped:
        element.drop_tree()
    return len(dropped)


def _measure(element: Any, in_link: bool, page_chars: int, dropped: list[Any]) -> _Block:
    block = _Block()
    tag = element.tag
    if not isinstance(tag, str):  # a processing instruction or entity
        return block
    if tag == "a":
        in_link = True
        block.links = 1
    block.add_text(element.text, in_link)
    for child in element:
        block.add(_measure(child, in_link, page_chars, dropped))
        block.add_text(child.tail, in_link)
    if block.chars and is_boilerplate(element, block, page_chars):
        dropped.append(element)
        return _Block(dropped=block.chars + block.dropped)
    return block


def is_boilerplate(element: Any, block: _Block, page_chars: int) -> bool:
    """Tell whether a block, as its kept children leave it, is boilerplate."""
    tag = element.tag
    named = tag in NAMED_TAGS or element.attrib
    # Held, not kept: a wrapper stays a wrapper after its menus are dropped.
    held = block.chars + block.dropped
    if named and held <= MOST_OF_PAGE * page_chars and is_named_boilerplate(element):
        return True
    if tag not in DENSITY_TAGS or block.prices:
        return False
    if block.links >= MIN_LINKS and block.link_chars >= MAX_LINK_DENSITY * block.chars:
        return True
    # What a dropped menu leaves of its block, a heading ("Categories"), went with it.
    return (
        block.dropped >= ORPHAN_SHARE * block.chars
        and block.chars < ORPHAN_CHARS
        and bool(MENU_HEADING(element))
    )


def is_named_boilerplate(element: Any) -> bool:
    """Tell whether a block's tag, role, class or id says it is navigation or an aside."""
    tag = element.tag
    if tag == "aside" or (tag == "header" and element.find(".//h1") is None):
        return True
    if (element.get("role") or "").strip().lower() in BOILERPLATE_ROLES:
        return True
    if tag == "form" and is_search_form(element):
        return True
    return has_name(element, BOILERPLATE_NAMES)


def has_name(element: Any, pattern: re.Pattern[str], attributes: str = "class id") -> bool:
    """Tell whether a word of the element's class or id (or other attributes) matches."""
    names = " ".join(element.get(name) or "" for name in attributes.split())
    return bool(names.strip()) and bool(pattern.search(names.lower()))


def is_search_form(form: Any) -> bool:
    """Tell whether a form searches or filters the site (its options are the site's, too)."""
    if has_name(form, SEARCH_NAMES, "action class id role"):
        return True
    controls = form.iter("input", "button", "select")
    return any(has_name(c, SEARCH_NAMES, "name type class id") for c in controls)
