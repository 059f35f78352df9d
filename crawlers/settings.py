"""Scrapy settings of SynthWatch's crawlers, and the one place this package reads the environment.

Polite by default: one request per host at a time, a delay between requests that AutoThrottle
only ever raises, an identifying User-Agent with a contact URL, size and time limits. Scrapy's
own robots.txt and offsite middlewares are off because `crawlers.robots` and `crawlers.guard`
do that job (failing closed, with stats and the refused URLs kept for the run summary).

Environment variables read here:

- `SYNTHWATCH_SOURCES`: source TOML files, separated by `os.pathsep`.
- `SYNTHWATCH_ALLOW_LOOPBACK=1`: let the guard fetch loopback addresses (the demo and tests).
- `SYNTHWATCH_CONTACT_URL`: the contact URL in the User-Agent.
- `SYNTHWATCH_HOME`, `SYNTHWATCH_DATABASE_URL`: through `storage.config.StorageSettings`.
"""

from __future__ import annotations

import os

from crawlers import __version__
from storage.config import StorageSettings

_storage = StorageSettings.from_env()

BOT_NAME = "synthwatch"
SPIDER_LOADER_CLASS = "crawlers.loader.SourceSpiderLoader"
SPIDER_MODULES: list[str] = []

# ---------------------------------------------------------------- who we are
SYNTHWATCH_CONTACT_URL = os.environ.get(
    "SYNTHWATCH_CONTACT_URL", "https://github.com/synthwatch/synthwatch/blob/main/README.md"
)
USER_AGENT = f"SynthWatch/{__version__} (+{SYNTHWATCH_CONTACT_URL})"
# The product token matched against robots.txt User-agent lines (RFC 9309 §2.2.1).
SYNTHWATCH_ROBOTS_AGENT = "SynthWatch"
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
# Not 429: retrying "too many requests" at once is impolite (Retry-After comes in a later issue).
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
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
# At most this many refused or blocked URLs per reason are kept for the run summary.
SYNTHWATCH_REFUSED_URLS_MAX = 50
SYNTHWATCH_DNS_CACHE_SIZE = 4096

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    # We never send credentials, so HTTP auth and cookies have no business running.
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "crawlers.guard.OpenWebGuard": 50,
    "crawlers.robots.RobotsTxtMiddleware": 100,
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
# The analyser class, built as `cls(rebuild_every=SYNTHWATCH_ANALYSER_REBUILD_EVERY)`: spaCy's
# StringStore grows with every novel token, so nlp rebuilds its pipeline every N documents.
SYNTHWATCH_ANALYSER = "nlp.Analyser"
SYNTHWATCH_ANALYSER_REBUILD_EVERY = 5000

LOG_LEVEL = "INFO"
