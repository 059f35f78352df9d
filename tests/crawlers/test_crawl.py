"""End-to-end crawls of a scripted local site, each in a child process via `run_crawl`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Capture, CrawlRun, Listing, ListingVersion
from storage.warc import read_capture
from tests.crawlers.fakes import SlowStartAnalyser
from tests.crawlers.harness import Harness, MockServer
from tests.factories import source_toml

pytestmark = pytest.mark.slow

SLOW_START = {"SYNTHWATCH_ANALYSER": "tests.crawlers.fakes.SlowStartAnalyser"}

ROBOTS = "User-agent: *\nDisallow: /private/\n"
INDEX = """<html><head><title>Shop</title></head><body>
<nav><a href="/cat/a">Category A</a></nav>
<a class="listing" href="/item/1">One</a>
<a class="listing" href="/item/1#reviews">One again</a>
<a class="listing" href="/private/item/9">Disallowed by robots.txt</a>
<a class="listing" href="http://market.onion/item/x">Hidden service</a>
<a class="listing" href="https://example.com/item/ext">Another site</a>
<a class="listing" href="/login">Sign in</a>
<a class="listing" href="/members/item/5">Members only</a>
<a class="listing" href="/item/password">Password form</a>
<a class="listing" href="/item/captcha">Challenge</a>
<a class="listing" href="/item/moved">Moved away</a>
<a class="listing" href="/item/missing">Gone</a>
<a rel="next" href="/?page=2">Next</a>
</body></html>"""
ITEM_1 = """<html><body><nav>Home | Shop</nav>
<h1>Fentanyl powder 99%</h1><span class="price">$120 per gram</span>
<div class="seller">vendor-x</div><script>var x = "fentanyl";</script>
<footer>Contact us</footer></body></html>"""
ITEM_2 = """<html><head><script type="application/ld+json">
{"@context": "https://schema.org", "@type": "Product", "name": "Acetone 1L",
 "description": "Laboratory grade solvent.",
 "offers": {"@type": "Offer", "price": "19.90", "priceCurrency": "EUR",
            "seller": {"@type": "Organization", "name": "ChemCo"}}}
</script></head><body><h1>Acetone</h1></body></html>"""
ITEM_3 = """<html><body><nav>Menu</nav><main><h1>Nitrile gloves</h1>
<p>Box of 100 gloves.</p><style>p {color: red}</style></main><footer>(c)</footer></body></html>"""
ITEM_4 = "<html><body><h1>Glassware set</h1><p>Borosilicate.</p></body></html>"
PAGE_2 = '<html><body><a class="listing" href="/item/3">Three</a></body></html>'
CATEGORY = '<html><body><a class="listing" href="/item/2">Two</a></body></html>'
SITEMAP_INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemap-items.xml</loc></sitemap></sitemapindex>"""
SITEMAP_ITEMS = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/item/4</loc></url><url><loc>{base}/about</loc></url>
<url><loc>{base}/private/item/8</loc></url></urlset>"""
PASSWORD = '<html><body><form><input type="password" name="pw"></form></body></html>'
CAPTCHA = """<html><body><div class="g-recaptcha"></div>
<p>Please verify you are human.</p></body></html>"""
XML = {"Content-Type": "application/xml"}
NEVER_REQUESTED = ("/private/item/9", "/private/item/8", "/login", "/about")


def build_shop(server: MockServer) -> None:
    server.add("/robots.txt", ROBOTS, headers={"Content-Type": "text/plain"})
    server.add("/", INDEX)
    server.add("/?page=2", PAGE_2)
    server.add("/cat/a", CATEGORY)
    server.add("/item/1", ITEM_1, headers={"Set-Cookie": "session=abc"})
    server.add("/item/2", ITEM_2)
    server.add("/item/3", ITEM_3)
    server.add("/item/4", ITEM_4)
    server.add("/item/password", PASSWORD)
    server.add("/item/captcha", CAPTCHA, status=403)
    server.add("/item/moved", status=302, headers={"Location": "https://elsewhere.example/x"})
    server.add("/members/item/5", "<p>Sign in</p>", status=401)
    server.add("/sitemap.xml", SITEMAP_INDEX, headers=XML)
    server.add("/sitemap-items.xml", SITEMAP_ITEMS, headers=XML)


def test_crawl_stores_listings_with_evidence_and_refuses_what_it_must(
    harness: Harness, server: MockServer
) -> None:
    build_shop(server)
    sources = harness.write_sources(
        source_toml(
            "shop",
            server.base_url,
            sitemaps='["{base}/sitemap.xml"]',
            pattern="/item/",
            fields='title = "h1"\nprice = ".price"\nseller = ".seller"',
        )
    )
    harness.register_file(sources)

    outcome = harness.crawl("shop", sources)

    log = outcome.log_path.read_text()
    assert outcome.ok, log
    paths = server.paths()
    assert paths[0] == "/robots.txt"
    assert paths.count("/robots.txt") == 1
    for path in NEVER_REQUESTED:
        assert path not in paths
    assert paths.count("/item/1") == 1
    for hit in server.hits:
        assert hit.headers["User-Agent"].startswith("SynthWatch/")
        assert "Cookie" not in hit.headers and "Authorization" not in hit.headers

    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None and run.status == "finished" and run.error is None
        listings = {
            listing.url.removeprefix(server.base_url): listing
            for listing in session.scalars(select(Listing))
        }
        assert sorted(listings) == ["/item/1", "/item/2", "/item/3", "/item/4"]
        one = listings["/item/1"].versions[-1]
        assert one.title == "Fentanyl powder 99%"
        assert one.fields == {
            "title": "Fentanyl powder 99%",
            "price": "$120 per gram",
            "seller": "vendor-x",
            "page_signals": {"price_field": "$120 per gram"},
        }
        assert one.offer and listings["/item/1"].case is not None
        two = listings["/item/2"].versions[-1]
        assert two.fields["seller"] == "ChemCo" and two.fields["currency"] == "EUR"
        three = listings["/item/3"].versions[-1]
        assert three.text == "Nitrile gloves\nBox of 100 gloves."
        captures = list(session.scalars(select(Capture)))
        assert len(captures) == 4
        for capture in captures:
            assert capture.warc_file == run.warc_file == f"evidence/shop/{run.id}.warc.gz"
            check = read_capture(harness.home, capture)
            assert check.verified, check.message
        assert session.scalar(select(ListingVersion.id).where(ListingVersion.offer)) is not None

    stats = run.stats
    assert stats["finish_reason"] == "finished"
    assert stats["synthwatch/listings_stored"] == 4
    assert stats["synthwatch/listings_new_version"] == 4
    assert stats["synthwatch/flagged"] == 1
    assert stats["synthwatch/refused/robots"] == 2
    assert stats["synthwatch/refused/onion"] == 1
    assert stats["synthwatch/refused/out_of_scope"] == 2
    assert stats["synthwatch/refused/login"] == 3
    assert stats["synthwatch/blocked"] == 1
    assert stats["synthwatch/errors"] == 1
    assert stats["synthwatch/robots/fetched"] == 1
    assert "http://market.onion/item/x" in stats["synthwatch/refused_urls/onion"]
    assert "https://elsewhere.example/x" in stats["synthwatch/refused_urls/out_of_scope"]
    assert stats["synthwatch/blocked_urls"] == [f"{server.base_url}/item/captcha"]


def test_a_robots_txt_server_error_fails_closed(harness: Harness, server: MockServer) -> None:
    server.add("/robots.txt", "oops", status=500)
    server.add("/", '<a class="listing" href="/item/1">1</a>')
    sources = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(sources)

    outcome = harness.crawl("shop", sources)

    assert outcome.ok, outcome.log_path.read_text()
    # Asked three times (after each back-off), then the host is refused for this crawl.
    assert server.paths() == ["/robots.txt"] * 3
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None
        assert run.stats["synthwatch/robots/unreachable"] == 1
        assert run.stats["synthwatch/robots/retries"] == 2
        assert run.stats["synthwatch/refused_urls/robots"] == [f"{server.base_url}/"]
        assert run.stats["synthwatch/listings_stored"] == 0
    # Not cached: the next crawl asks again.
    assert not (harness.home / "robots-cache").exists()


def test_an_unreachable_host_fails_closed(harness: Harness, server: MockServer) -> None:
    base = server.base_url
    server.stop()  # nothing listens on this port any more
    sources = harness.write_sources(source_toml("shop", base))
    harness.register_file(sources)

    outcome = harness.crawl("shop", sources, settings={"RETRY_TIMES": "0"})

    assert outcome.ok, outcome.log_path.read_text()
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None
        assert run.stats["synthwatch/robots/unreachable"] == 1
        assert run.stats["synthwatch/refused/robots"] == 1


def test_a_crawl_past_its_timeout_is_killed(harness: Harness, server: MockServer) -> None:
    server.add("/robots.txt", "User-agent: *\n", delay=30)
    sources = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(sources)

    outcome = harness.crawl("shop", sources, timeout=3, grace=1)

    assert outcome.timed_out and not outcome.ok
    assert outcome.exit_code is not None and outcome.exit_code < 0
    assert outcome.duration - outcome.startup < 15
    assert outcome.run_id is not None


def test_the_timeout_starts_once_the_crawl_run_is_open(
    harness: Harness, server: MockServer
) -> None:
    server.add("/robots.txt", "User-agent: *\n")
    server.add("/", '<a class="listing" href="/item/1">1</a>')
    server.add("/item/1", "<h1>Fentanyl $120</h1>")
    sources = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(sources)

    # Building the analyser alone takes longer than the whole crawl may.
    outcome = harness.crawl(
        "shop", sources, timeout=SlowStartAnalyser.SECONDS - 1, settings=SLOW_START
    )

    assert outcome.ok, outcome.log_path.read_text()
    assert outcome.startup >= SlowStartAnalyser.SECONDS
    assert server.paths() == ["/robots.txt", "/", "/item/1"]


def test_a_child_that_never_reports_running_is_stopped(
    harness: Harness, server: MockServer
) -> None:
    sources = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(sources)

    outcome = harness.crawl("shop", sources, startup_timeout=1, grace=1, settings=SLOW_START)

    assert outcome.timed_out and outcome.run_id is None and not outcome.ok
    assert 1 <= outcome.startup < SlowStartAnalyser.SECONDS - 1
    assert server.hits == []


def test_a_host_name_resolving_to_loopback_is_refused_unless_allowed(
    harness: Harness, server: MockServer
) -> None:
    server.add("/", '<a class="listing" href="/item/1">1</a>')
    base = server.base_url.replace("127.0.0.1", "localhost")
    text = source_toml("local", base).replace('["127.0.0.1"]', '["localhost"]')
    sources = harness.write_sources(text)
    harness.register_file(sources)

    outcome = harness.crawl("local", sources, allow_loopback=False)

    assert outcome.ok, outcome.log_path.read_text()
    assert server.hits == []
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None
        assert run.stats["synthwatch/refused_urls/private_address"] == [f"{base}/"]


def test_a_crawl_waiting_out_a_back_off_stops_at_once_when_told(
    harness: Harness, server: MockServer
) -> None:
    server.add("/robots.txt", "busy", status=503)
    sources = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(sources)

    # The timeout's SIGTERM comes during a 60 s back-off; the crawl must not need SIGKILL.
    outcome = harness.crawl(
        "shop", sources, timeout=4, grace=8, settings={"SYNTHWATCH_ROBOTS_RETRY_DELAYS": "60"}
    )

    assert outcome.timed_out and outcome.exit_code == 0, outcome.log_path.read_text()
    assert outcome.status == "failed" and outcome.duration - outcome.startup < 10
    assert server.paths() == ["/robots.txt"]
