"""Scrapy settings of SynthWatch's crawlers, and the one place this package reads the environment.

Polite by default: one request per host at a time, a delay between requests that AutoThrottle
only ever raises, an identifying User-Agent with a contact URL, size and time limits. Scrapy's
own robots.txt and offsite middlewares are off because `crawlers.robots` and `crawlers.guard`
do that job (failing closed, with stats and the refused URLs kept for the run summary); its
User-Agent, redirect and decompression middlewares are replaced by ours (`crawlers.identity`,
`crawlers.faults`), and `crawlers.retry_after` honours Retry-After.

Environment variables read here:

- `SYNTHWATCH_SOURCES`: source TOML files, separated by `os.pathsep`.
- `SYNTHWATCH_ALLOW_LOOPBACK=1`: let the guard fetch loopback addresses (the demo and tests).
- `SYNTHWATCH_REFUSED_NETWORKS`: CIDR networks the guard refuses on top of every non-public
  one (say, your own hosting network), separated by commas.
- `SYNTHWATCH_CONTACT_URL`: the contact URL in the User-Agent (an http(s) URL or `mailto:`);
  required: without it a crawl refuses to start (`crawlers.identity`).
- `SYNTHWATCH_HOME`, `SYNTHWATCH_DATABASE_URL`: through `storage.config.StorageSettings`.
"""

from __future__ import annotations

import os

from crawlers.identity import user_agent
from storage.config import StorageSettings

_storage = StorageSettings.from_env()

BOT_NAME = "synthwatch"
SPIDER_LOADER_CLASS = "crawlers.loader.SourceSpiderLoader"
SPIDER_MODULES: list[str] = []

# ---------------------------------------------------------------- who we are
# No default: whoever runs the crawler says how to reach them (checked when a crawl starts).
SYNTHWATCH_CONTACT_URL = os.environ.get("SYNTHWATCH_CONTACT_URL", "").strip()
# The product token of the User-Agent, matched against robots.txt User-agent lines (RFC 9309
# §2.2.1). `crawlers.identity.IdentityMiddleware` sends the User-Agent, built as here.
SYNTHWATCH_ROBOTS_AGENT = "SynthWatch"
USER_AGENT = user_agent(SYNTHWATCH_CONTACT_URL, product=SYNTHWATCH_ROBOTS_AGENT)
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
}

# ---------------------------------------------------------------- politeness and limits
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# A source whose allowed_domains are all loopback hosts (only our own demo server and test
# servers) gets this delay instead: ~40 demo pages then take seconds, not a minute. Real hosts
# never do, and the guard refuses loopback unless SYNTHWATCH_ALLOW_LOOPBACK is set.
SYNTHWATCH_LOOPBACK_DOWNLOAD_DELAY = 0.05
REDIRECT_MAX_TIMES = 5
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
# Not 429: `crawlers.retry_after` waits as long as the server asks before retrying a 429 (or a
# 503 that says Retry-After); a 503 without it is retried here, as other 5xx are.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
# A 429 or 503 with Retry-After pauses its host, then the request is retried at most this many
# times; a wait longer than SYNTHWATCH_RETRY_AFTER_MAX seconds is an error
# (`retry_after_too_long`), and a 429 without Retry-After waits SYNTHWATCH_RETRY_AFTER_DEFAULT.
SYNTHWATCH_RETRY_AFTER_TIMES = 3
SYNTHWATCH_RETRY_AFTER_MAX = 300.0
SYNTHWATCH_RETRY_AFTER_DEFAULT = 60.0
# Off (Scrapy's defaults, said here): each source's `[source.limits]` bound its crawl in the
# spider (`crawlers.bounds`), which records what it stopped as `capped`; DEPTH_LIMIT drops
# requests silently, and CLOSESPIDER_PAGECOUNT closes the crawl with requests in flight.
DEPTH_LIMIT = 0
CLOSESPIDER_PAGECOUNT = 0
# Measured: ~10 items in flight is where the pipelines stop being the bottleneck.
CONCURRENT_ITEMS = 10
COOKIES_ENABLED = False
# No listening ports in a crawl process: neither the telnet console nor Scrapy's remote control.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
ROBOTSTXT_OBEY = False
# robots.txt is fetched by our middleware; a Crawl-delay above this skips the host.
SYNTHWATCH_ROBOTS_MAX_CRAWL_DELAY = 60.0
SYNTHWATCH_ROBOTS_TIMEOUT = 20.0
# An unreachable robots.txt (5xx, timeout, network failure) keeps its host refused; it is
# fetched again after each of these back-offs (seconds), while the host's requests wait, and
# after the last one the host stays refused for the rest of the crawl.
SYNTHWATCH_ROBOTS_RETRY_DELAYS = [15.0, 60.0]
# Rules are kept in $SYNTHWATCH_HOME/robots-cache/ for this long across crawls (RFC 9309 §2.4
# allows at most 24 hours, which caps it); 0 turns the cache off.
SYNTHWATCH_ROBOTS_CACHE_SECONDS = 24 * 3600
# At most this many refused or blocked URLs per reason are kept for the run summary.
SYNTHWATCH_REFUSED_URLS_MAX = 50
# At most this many {url, reason} entries of failed URLs are kept (`synthwatch/error_urls`).
SYNTHWATCH_ERROR_URLS_MAX = 200
# A listing missed by this many complete, finished crawls in a row is marked gone.
SYNTHWATCH_GONE_AFTER = 3
# Host names whose vetted addresses are kept (LRU); the guard looks a host up once per crawl.
SYNTHWATCH_DNS_CACHE_SIZE = 4096
# Connections ask only this resolver, which answers with the addresses the guard vetted; the
# guard refuses every request when another one is installed.
TWISTED_DNS_RESOLVER = "crawlers.resolver.VettedResolver"
SYNTHWATCH_REFUSED_NETWORKS = [
    n.strip() for n in os.environ.get("SYNTHWATCH_REFUSED_NETWORKS", "").split(",") if n.strip()
]

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    # We never send credentials, so HTTP auth and cookies have no business running.
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    # A proxy would resolve host names itself, out of the guard's sight.
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    # Replaced by ours at the same places: ours send our identity and name their failures.
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawlers.guard.OpenWebGuard": 50,
    "crawlers.robots.RobotsTxtMiddleware": 100,
    "crawlers.identity.IdentityMiddleware": 500,
    # Above RetryMiddleware (550), so it sees a 429/503 with Retry-After first.
    "crawlers.retry_after.RetryAfterMiddleware": 560,
    "crawlers.faults.BoundedHttpCompressionMiddleware": 590,
    "crawlers.faults.BoundedRedirectMiddleware": 600,
    # Below DownloaderStats (850), which still counts the exception; past it nothing retries.
    "crawlers.faults.DownloadSizeMiddleware": 595,
}
EXTENSIONS = {
    "crawlers.crawlrun.CrawlRunExtension": 10,
}
# Evidence is on disk before extraction, and both before the listing row commits.
ITEM_PIPELINES = {
    "crawlers.pipelines.EvidencePipeline": 100,
    "crawlers.pipelines.ExtractPipeline": 200,
    "crawlers.pipelines.StorePipeline": 300,
}

# ---------------------------------------------------------------- what to crawl, where to keep it
SYNTHWATCH_SOURCES = [p for p in os.environ.get("SYNTHWATCH_SOURCES", "").split(os.pathsep) if p]
SYNTHWATCH_ALLOW_LOOPBACK = os.environ.get("SYNTHWATCH_ALLOW_LOOPBACK", "").lower() in {
    "1",
    "true",
    "yes",
}
SYNTHWATCH_HOME = str(_storage.home)
SYNTHWATCH_DATABASE_URL = _storage.database_url
# Written by the crawl-run extension for `crawlers.runner` (JSON: run id, status); off when empty.
SYNTHWATCH_RUN_FILE = ""
SYNTHWATCH_EVIDENCE_FSYNC = True
# Where evidence goes (`storage.evidence_store`): empty for $SYNTHWATCH_HOME/evidence (a shared
# mount on several machines), or s3://bucket/prefix, at this endpoint when it is not AWS.
SYNTHWATCH_EVIDENCE_URL = _storage.evidence_url
SYNTHWATCH_S3_ENDPOINT_URL = _storage.s3_endpoint_url
# Group commit (`crawlers.store_batch`): listings are stored a transaction (and a WARC fsync)
# per batch of this many items, or of what came within this many seconds of the oldest. A kill
# loses at most the batch being written (the next crawl fetches it again). Measured on a
# 2,001-page site: 100 items cut storing from ~12 statements and 8 ms of CPU a listing to ~1
# statement and 0.7 ms (SQLite; PostgreSQL 0.1 statements, 1.2 ms).
SYNTHWATCH_STORE_BATCH_SIZE = 100
SYNTHWATCH_STORE_BATCH_SECONDS = 0.5
# The analyser class, built as `cls(rebuild_every=SYNTHWATCH_ANALYSER_REBUILD_EVERY or None)`.
# nlp bounds spaCy's StringStore itself (it rebuilds once 100,000 new strings were interned), so
# 0 (unset) is the default: `--soak 50000` peaked at 364 MB without a rebuild every N documents,
# and a rebuild every 5,000 gave the same RSS at 20,000 pages (323 MB against 318). A number
# adds that rebuild.
SYNTHWATCH_ANALYSER = "nlp.Analyser"
SYNTHWATCH_ANALYSER_REBUILD_EVERY = 0

LOG_LEVEL = "INFO"
