"""The stats a crawl run records (`crawl_runs.stats`): every key, as a constant, documented here.

The crawlers write these keys (through `crawlers/stats.py`); the sources page, the digest, the
CLI and the crawl summary read them. Both sides import the constants from here, so a key has one
spelling and one meaning. Every key below exists in a closed run's stats, with 0 when nothing
happened (`<reason>` keys for each reason listed), so that `synthwatch crawl-runs` can print a
stable table. Counters:

- `synthwatch/requests`: requests sent, robots.txt, retries and redirects included
  (Scrapy's `downloader/request_count`, copied when the run closes).
- `synthwatch/pages_fetched`: responses received for pages (robots.txt not counted; a 304 is).
- `synthwatch/listings_stored`: listing pages stored, each with a capture and its WARC record.
- `synthwatch/listings_new`: listings seen for the first time.
- `synthwatch/listings_changed`: known listings whose normalised text changed (a new version).
- `synthwatch/listings_new_version`: new and changed together (a version was written).
- `synthwatch/listings_unchanged`: listings seen again unchanged: a 304 answer to a
  conditional GET (nothing written, nothing analysed) or the same normalised text.
- `synthwatch/listings_missed`: listings of the source this run did not see; counted only when
  the run finished with `synthwatch/incomplete` at 0, else left alone.
- `synthwatch/listings_gone`: listings newly marked gone, having been missed by
  `SYNTHWATCH_GONE_AFTER` such runs in a row.
- `synthwatch/flagged`: stored listings whose analysis reads as an offer.
- `synthwatch/refused/<reason>`: requests refused, per reason: the guard's (`scheme`,
  `credentials`, `onion`, `ip_literal`, `out_of_scope`, `login`, `private_address`), `robots`
  (robots.txt disallows the URL, or the host's robots.txt is unreachable) and `crawl_delay` (the
  host asks a Crawl-delay above `SYNTHWATCH_ROBOTS_MAX_CRAWL_DELAY`) and `invalid_url` (a link
  no request can be built for; a host ending in a number that is no IPv4 address, such as
  `shop.example.0x5d`, counts as `ip_literal`).
- `synthwatch/blocked`: pages that were CAPTCHA or WAF challenges (never stored).
- `synthwatch/errors`: URLs that failed, and failures in callbacks and pipelines.
- `synthwatch/errors/<reason>`: the same per reason: `timeout` (DOWNLOAD_TIMEOUT),
  `connection_lost` (reset, closed or failed mid-response), `connection_refused`, `dns`
  (the guard's look-up of the host failed, or a connection asked for a name it never vetted),
  `too_large` (over DOWNLOAD_MAXSIZE), `decompression_bomb` (over DOWNLOAD_MAXSIZE once
  decompressed), `too_many_redirects` (over REDIRECT_MAX_TIMES), `redirect_loop` (redirected
  back to a URL already requested), `retry_after_too_long` (a Retry-After beyond
  `SYNTHWATCH_RETRY_AFTER_MAX`), `cancelled`, `spider` (a callback raised), `pipeline`,
  `evidence` (WARC not written), `storage` (row not stored), `analysis` (the analyser raised;
  the listing was stored unanalysed), `other`; and `http_<status>` for
  an HTTP error status left after retries (created when it happens).
- `synthwatch/incomplete`: failures that leave this run's view of the site partial: every
  error but `http_404`, `http_410` and `analysis`, every block, every host whose robots.txt
  stayed unreachable or whose Crawl-delay is too long, every bound reached (once per reason,
  and once per trap pattern). Misses are counted only when it is 0.
- `synthwatch/capped`: URLs not requested because a bound of the crawl was reached
  (`[source.limits]`, `crawlers.bounds`); when above 0 the run was capped.
- `synthwatch/capped/<reason>`: the same per bound: `pages` (`max_pages`), `depth`
  (`max_depth`), `pattern` (a URL pattern past `max_pattern_pages`: a trap) and
  `query_variants` (a listing path past `max_query_variants` query strings).
- `synthwatch/extraction_notes/<note>`: listings stored with a note of how their text was read
  or bounded (kept in the version's `extraction` field too): `encoding` (the declared
  encoding was unknown, or a byte order mark or UTF-16 bytes said otherwise),
  `markup_too_deep` (nested past the parser's depth limit: the text was read flat),
  `boilerplate_kept` (too deep to judge boilerplate: every block kept), `json_ld_too_deep`
  (a JSON-LD script nested too deep to read was skipped), `text_truncated`,
  `title_truncated`, `field_truncated` (cut at the reader's limits) and `analysis_failed`
  (the analyser raised: stored unanalysed, with the error).
- `synthwatch/robots/fetched`, `synthwatch/robots/cached` (rules read from the robots cache),
  `synthwatch/robots/retries` (robots.txt fetched again after a back-off),
  `synthwatch/robots/unreachable` (hosts refused for this run), and
  `synthwatch/robots/crawl_delay_too_long` (hosts skipped).
- `synthwatch/retry_after/paused` (a 429/503 paused its host), `synthwatch/retry_after/retried`.
- `synthwatch/interrupted_runs`: runs of this source still marked running (their process was
  killed) that this run marked interrupted when it opened.
- `synthwatch/gate/refused`: 1 when the legal gate refused the crawl.
- `synthwatch/duration_seconds`: from the run's start to its close.

Other counters, created when they happen: `synthwatch/evidence/records`,
`synthwatch/extraction/<method>` (how a listing's text was read), `synthwatch/skipped/not_text`,
`synthwatch/sitemap/invalid`, `synthwatch/guard/credentials_stripped`,
`synthwatch/redirects/to_seen` (a redirect to a URL this crawl already requested: not fetched
twice, not an error), `synthwatch/duplicates/query_variant` (a listing URL that differs from one
read before only in its query, with the same text: the same listing, not stored twice).

Lists, each bounded: `synthwatch/refused_urls/<reason>`, `synthwatch/capped_urls/<reason>`,
`synthwatch/traps` (the URL patterns found to be traps, digits as `N`) and
`synthwatch/blocked_urls` (URLs, at most `SYNTHWATCH_REFUSED_URLS_MAX` per key) and
`synthwatch/error_urls` (`{"url", "reason"}` objects, at most `SYNTHWATCH_ERROR_URLS_MAX`; the
URL is the one first requested, before any redirect). Beside them the closed run keeps Scrapy's
`downloader/request_count`, `downloader/response_count`, `item_scraped_count`,
`item_dropped_count`, `elapsed_time_seconds`, and `finish_reason`.
"""

from __future__ import annotations

NAMESPACE = "synthwatch/"

REQUESTS = "synthwatch/requests"
PAGES_FETCHED = "synthwatch/pages_fetched"
LISTINGS_STORED = "synthwatch/listings_stored"
LISTINGS_NEW = "synthwatch/listings_new"
LISTINGS_CHANGED = "synthwatch/listings_changed"
LISTINGS_NEW_VERSION = "synthwatch/listings_new_version"
LISTINGS_UNCHANGED = "synthwatch/listings_unchanged"
LISTINGS_MISSED = "synthwatch/listings_missed"
LISTINGS_GONE = "synthwatch/listings_gone"
FLAGGED = "synthwatch/flagged"
BLOCKED = "synthwatch/blocked"
ERRORS = "synthwatch/errors"
INCOMPLETE = "synthwatch/incomplete"
CAPPED = "synthwatch/capped"
ROBOTS_FETCHED = "synthwatch/robots/fetched"
ROBOTS_CACHED = "synthwatch/robots/cached"
ROBOTS_RETRIES = "synthwatch/robots/retries"
ROBOTS_UNREACHABLE = "synthwatch/robots/unreachable"
ROBOTS_CRAWL_DELAY_TOO_LONG = "synthwatch/robots/crawl_delay_too_long"
RETRY_AFTER_PAUSED = "synthwatch/retry_after/paused"
RETRY_AFTER_RETRIED = "synthwatch/retry_after/retried"
INTERRUPTED_RUNS = "synthwatch/interrupted_runs"
GATE_REFUSED = "synthwatch/gate/refused"
DURATION_SECONDS = "synthwatch/duration_seconds"

EVIDENCE_RECORDS = "synthwatch/evidence/records"
SKIPPED_NOT_TEXT = "synthwatch/skipped/not_text"
QUERY_VARIANT_DUPLICATES = "synthwatch/duplicates/query_variant"
SITEMAP_INVALID = "synthwatch/sitemap/invalid"
CREDENTIALS_STRIPPED = "synthwatch/guard/credentials_stripped"
REDIRECTS_TO_SEEN = "synthwatch/redirects/to_seen"

BLOCKED_URLS = "synthwatch/blocked_urls"
TRAPS = "synthwatch/traps"
ERROR_URLS = "synthwatch/error_urls"

REFUSED_PREFIX = "synthwatch/refused/"
REFUSED_URLS_PREFIX = "synthwatch/refused_urls/"
ERRORS_PREFIX = "synthwatch/errors/"
EXTRACTION_PREFIX = "synthwatch/extraction/"
CAPPED_PREFIX = "synthwatch/capped/"
CAPPED_URLS_PREFIX = "synthwatch/capped_urls/"
EXTRACTION_NOTES_PREFIX = "synthwatch/extraction_notes/"

REFUSAL_REASONS = (
    "scheme",
    "credentials",
    "onion",
    "ip_literal",
    "out_of_scope",
    "login",
    "private_address",
    "robots",
    "crawl_delay",
    "invalid_url",
)
ERROR_REASONS = (
    "timeout",
    "connection_lost",
    "connection_refused",
    "dns",
    "too_large",
    "decompression_bomb",
    "too_many_redirects",
    "redirect_loop",
    "retry_after_too_long",
    "cancelled",
    "spider",
    "pipeline",
    "evidence",
    "storage",
    "analysis",
    "other",
)
# A listing that answers 404 or 410 is really not there: its miss is news, not a gap. One the
# analyser failed on was seen and stored: its run saw it.
COMPLETE_ERRORS = frozenset({"http_404", "http_410", "analysis"})
# The bounds of a crawl (`crawlers.bounds.CAP_REASONS`).
CAP_REASONS = ("pages", "depth", "pattern", "query_variants")
EXTRACTION_NOTES = (
    "encoding",
    "markup_too_deep",
    "boilerplate_kept",
    "json_ld_too_deep",
    "text_truncated",
    "title_truncated",
    "field_truncated",
    "analysis_failed",
)


def refused_key(reason: str) -> str:
    """Return the counter of requests refused for `reason`."""
    return REFUSED_PREFIX + reason


def refused_urls_key(reason: str) -> str:
    """Return the bounded list of URLs refused for `reason`."""
    return REFUSED_URLS_PREFIX + reason


def error_key(reason: str) -> str:
    """Return the counter of failures for `reason` (`timeout`, `http_503`, ...)."""
    return ERRORS_PREFIX + reason


def extraction_key(method: str) -> str:
    """Return the counter of listings whose text was read by `method`."""
    return EXTRACTION_PREFIX + method


def capped_key(reason: str) -> str:
    """Return the counter of URLs not requested because the bound `reason` was reached."""
    return CAPPED_PREFIX + reason


def capped_urls_key(reason: str) -> str:
    """Return the bounded list of URLs not requested because of the bound `reason`."""
    return CAPPED_URLS_PREFIX + reason


def extraction_note_key(note: str) -> str:
    """Return the counter of listings stored with the extraction note `note`."""
    return EXTRACTION_NOTES_PREFIX + note


def is_refusal_key(key: str) -> bool:
    """Say whether `key` counts the refusals of one reason (not a URL list, not a sub-key)."""
    return key.startswith(REFUSED_PREFIX) and "/" not in key.removeprefix(REFUSED_PREFIX)


COUNTERS = (
    REQUESTS,
    PAGES_FETCHED,
    LISTINGS_STORED,
    LISTINGS_NEW,
    LISTINGS_CHANGED,
    LISTINGS_NEW_VERSION,
    LISTINGS_UNCHANGED,
    LISTINGS_MISSED,
    LISTINGS_GONE,
    FLAGGED,
    BLOCKED,
    ERRORS,
    INCOMPLETE,
    CAPPED,
    ROBOTS_FETCHED,
    ROBOTS_CACHED,
    ROBOTS_RETRIES,
    ROBOTS_UNREACHABLE,
    ROBOTS_CRAWL_DELAY_TOO_LONG,
    RETRY_AFTER_PAUSED,
    RETRY_AFTER_RETRIED,
    INTERRUPTED_RUNS,
    GATE_REFUSED,
    DURATION_SECONDS,
    *(refused_key(reason) for reason in REFUSAL_REASONS),
    *(error_key(reason) for reason in ERROR_REASONS),
    *(capped_key(reason) for reason in CAP_REASONS),
)

SCRAPY_REQUEST_COUNT = "downloader/request_count"
# Scrapy's own stats that belong in the run summary beside the `synthwatch/*` keys.
SCRAPY_STATS = (
    SCRAPY_REQUEST_COUNT,
    "downloader/response_count",
    "item_scraped_count",
    "item_dropped_count",
    "elapsed_time_seconds",
)
FINISH_REASON = "finish_reason"
# Scrapy's RobotsTxtMiddleware count. Ours replaces it (ROBOTSTXT_OBEY is off), but runs
# stored before may hold it, so readers still count it as refused by robots.txt.
SCRAPY_ROBOTS_FORBIDDEN = "robotstxt/forbidden"
