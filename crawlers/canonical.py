"""Canonical URLs: one URL per page, so that a link's decorations make neither a request nor a
listing of their own.

The canonical form of an http(s) URL has a lower-case scheme and host, no default port, no
fragment, none of the tracking parameters below (`TRACKING_PARAMETERS`, `TRACKING_PREFIXES`),
and its query's parameters sorted by name (then value, a name given twice keeps both). A
source that lists the query parameters that matter (`discovery.query_params`) keeps only
those. Percent-escapes and the path are left as the site wrote them: servers differ on what
they treat alike, and a wrong guess would merge two pages. A listing's identity is its
source and its canonical URL (docs/sources.md says what that means for listings stored before).
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Parameters that say who sent the visitor, never which page it is: analytics campaigns (Google,
# Matomo/Piwik, HubSpot, Marketo, Mailchimp), ad click ids (Google, Microsoft, Facebook, Yandex,
# TikTok, Twitter/X, LinkedIn) and referral tags. Matched ignoring case.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "ttclid", "twclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_ga", "_gl",
        "_hsenc", "_hsmi", "mkt_tok", "vero_id", "ref_src", "spm", "scid",
    }
)  # fmt: skip
# Parameter-name prefixes of the same: `utm_source`, `utm_campaign`, `pk_kwd`, `mtm_source`.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking(name: str) -> bool:
    """Tell whether a query parameter only tracks the visitor."""
    name = name.lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str, query_params: Collection[str] = ()) -> str:
    """Return the canonical form of a URL; keep only `query_params` when some are given.

    A URL that is not http(s), or has no host, is returned without its fragment only.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return urlunsplit(parts._replace(fragment=""))
    netloc = parts.hostname
    if ":" in netloc:  # an IPv6 literal
        netloc = f"[{netloc}]"
    try:
        port = parts.port
    except ValueError:
        # Not a port: left as written, for the downloader to refuse, never "fixed" into another.
        return urlunsplit(parts._replace(fragment=""))
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username is not None or parts.password is not None:
        # Kept, so that the guard still sees (and strips) them; never sent.
        credentials = parts.netloc.rsplit("@", 1)[0]
        netloc = f"{credentials}@{netloc}"
    wanted = {name.lower() for name in query_params}
    pairs = []
    for pair in parts.query.split("&"):
        name = unquote_plus(pair.split("=", 1)[0])
        if pair and not is_tracking(name) and (not wanted or name.lower() in wanted):
            pairs.append((name, pair))
    query = "&".join(pair for _, pair in sorted(pairs))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))
