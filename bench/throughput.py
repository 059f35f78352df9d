"""Pipeline throughput and memory on a generated 2,001-page site: SynthWatch against bare Scrapy.

In one run, interleaved round by round (medians of `--rounds`): bare Scrapy following the
source's selectors (`bench.bare_spider`), SynthWatch's first crawl of a fresh SQLite home, its
recrawl of the unchanged site (conditional GETs answered 304), and its first crawl into a fresh
PostgreSQL database when SYNTHWATCH_TEST_POSTGRES_URL names a server (a database is created and
dropped per round). Then nlp texts/s on normal and novel-vocabulary text (`bench.throughput_nlp`).
`--soak N` instead crawls N novel-vocabulary item pages once and prints the crawl child's
resident memory every `--soak-interval` seconds and its peak.

Run: ``make bench``, or ``python -m bench.throughput [--pages N] [--rounds N] [--texts N]``,
``python -m bench.throughput --soak 50000``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import throughput_nlp
from bench.crawl_runs import (
    Crawl,
    bare_crawl,
    open_home,
    pipeline_crawl,
    postgres_database,
    write_source,
)
from bench.measure import Sample
from bench.site import GeneratedSite, SiteSpec
from bench.site_server import SiteServer

POSTGRES_ENV = "SYNTHWATCH_TEST_POSTGRES_URL"
MB = 1024 * 1024

ROWS = (
    ("bare", "bare Scrapy, same selectors"),
    ("sqlite", "SynthWatch first crawl, SQLite"),
    ("recrawl", "SynthWatch recrawl (unchanged), SQLite"),
    ("postgres", "SynthWatch first crawl, PostgreSQL"),
)


def crawl_timeout(pages: int) -> float:
    """Return a crawl's timeout: generous, at 2 pages/s, never under 10 minutes."""
    return max(600.0, pages / 2)


def crawl_rounds(spec: SiteSpec, rounds: int, postgres: str | None) -> dict[str, list[Crawl]]:
    """Run the interleaved crawl rounds on a freshly served site; return each kind's crawls."""
    results: dict[str, list[Crawl]] = {key: [] for key, _ in ROWS}
    timeout = crawl_timeout(spec.pages)
    with (
        tempfile.TemporaryDirectory(prefix="synthwatch-bench-") as tmp,
        SiteServer(GeneratedSite(spec)) as server,
    ):
        sources_file = write_source(spec, server.base_url, Path(tmp) / "sources.toml")
        for round_no in range(rounds):
            results["bare"].append(bare_crawl(sources_file))
            home = Path(tmp) / f"sqlite-{round_no}"
            env = open_home(home, sources_file)
            results["sqlite"].append(pipeline_crawl(sources_file, env, timeout=timeout)[0])
            results["recrawl"].append(pipeline_crawl(sources_file, env, timeout=timeout)[0])
            if postgres:
                with postgres_database(postgres) as url:
                    env = open_home(Path(tmp) / f"postgres-{round_no}", sources_file, url)
                    crawl, _ = pipeline_crawl(sources_file, env, timeout=timeout)
                    results["postgres"].append(crawl)
            print(f"  round {round_no + 1} of {rounds} done", file=sys.stderr, flush=True)
    return results


def report_crawls(spec: SiteSpec, results: dict[str, list[Crawl]], rounds: int) -> None:
    """Print pages/s, CPU ms/page, peak RSS and the ratio to bare Scrapy of each kind of crawl."""
    bare_rate = statistics.median(c.rate for c in results["bare"])
    print(
        f"\ncrawl of a generated site on 127.0.0.1: {spec.pages:,} pages ({spec.items:,} item "
        f"pages, ~30 KB each), one request per host, no delay; median of {rounds} rounds"
    )
    print(f"{'':<40} {'pages/s':>8} {'CPU ms/page':>12} {'peak RSS':>9} {'vs bare':>8}")
    for key, label in ROWS:
        crawls = results[key]
        if not crawls:
            print(f"{label:<40} {'(' + POSTGRES_ENV + ' not set)':>39}")
            continue
        rate = statistics.median(c.rate for c in crawls)
        cpu = statistics.median(c.cpu_ms for c in crawls)
        peak = max(c.peak_rss for c in crawls)
        rss = f"{peak / MB:6.0f} MB" if peak else f"{'—':>9}"
        print(f"{label:<40} {rate:8.1f} {cpu:12.1f} {rss:>9} {rate / bare_rate:7.2f}x")
    for key, _label in ROWS:
        crawls = results[key]
        if crawls:
            detail = ", ".join(f"{c.rate:.1f}" for c in crawls)
            print(
                f"  {key}: pages/s by round {detail}; pages {crawls[0].pages}, listings "
                f"stored {crawls[0].stored}, unchanged {crawls[0].unchanged}"
            )
    if results["postgres"]:
        sqlite = statistics.median(c.rate for c in results["sqlite"])
        postgres = statistics.median(c.rate for c in results["postgres"])
        print(
            f"  SQLite / PostgreSQL first-crawl speed: {sqlite / postgres:.2f}x "
            "(the PostgreSQL server's own CPU is not in CPU ms/page)"
        )


def soak(items: int, interval: float, settings: dict[str, str] | None = None) -> None:
    """Crawl `items` novel-vocabulary item pages once; print the child's RSS curve and peak."""
    spec = SiteSpec(items=items, novel=True)
    extra = "".join(f", {name}={value}" for name, value in (settings or {}).items())
    print(
        f"soak: {spec.pages:,} pages ({items:,} novel-vocabulary items), SQLite, "
        f"RSS every {interval:g} s{extra}"
    )
    print(f"{'seconds':>8} {'requests':>9} {'RSS MB':>8}")

    def show(sample: Sample) -> None:
        print(f"{sample.seconds:8.0f} {sample.requests:9,} {sample.rss / MB:8.0f}", flush=True)

    with (
        tempfile.TemporaryDirectory(prefix="synthwatch-soak-") as tmp,
        SiteServer(GeneratedSite(spec)) as server,
    ):
        sources_file = write_source(spec, server.base_url, Path(tmp) / "sources.toml")
        env = open_home(Path(tmp) / "home", sources_file)
        crawl, samples = pipeline_crawl(
            sources_file,
            env,
            timeout=crawl_timeout(spec.pages),
            interval=interval,
            requests=server.served,
            on_sample=show,
            settings=settings,
        )
    late = [s.rss for s in samples if s.seconds >= samples[-1].seconds / 2] if samples else []
    print(
        f"peak RSS {crawl.peak_rss / MB:.0f} MB; second half {min(late, default=0) / MB:.0f} to "
        f"{max(late, default=0) / MB:.0f} MB; {crawl.rate:.1f} pages/s, "
        f"{crawl.cpu_ms:.1f} CPU ms/page, {crawl.stored:,} listings stored"
    )


def positive(text: str) -> int:
    """Parse a whole number of at least 1 (argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text}")
    return value


def setting(text: str) -> tuple[str, str]:
    """Parse NAME=VALUE (argparse type)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    """Run the crawl rounds and the nlp measure, or the soak; print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--pages", type=positive, default=2001, help="pages of the site")
    parser.add_argument("--rounds", type=positive, default=3, help="rounds of each (median)")
    parser.add_argument("--texts", type=positive, default=600, help="nlp texts a round")
    parser.add_argument("--no-nlp", action="store_true", help="skip the nlp measure")
    parser.add_argument(
        "--against",
        metavar="REV",
        default="",
        help="also measure nlp with its files changed since REV as they were then",
    )
    parser.add_argument("--no-crawl", action="store_true", help="skip the crawl rounds")
    parser.add_argument(
        "--soak", type=positive, metavar="N", help="only crawl N novel items, sampling RSS"
    )
    parser.add_argument(
        "--soak-interval", type=float, default=5.0, help="seconds between RSS samples"
    )
    parser.add_argument(
        "-s",
        dest="settings",
        action="append",
        default=[],
        type=setting,
        metavar="NAME=VALUE",
        help="a Scrapy setting of the soak's crawl (repeatable)",
    )
    args = parser.parse_args(argv)
    # The crawl children get their database from each round's environment, never this one's.
    os.environ.pop("SYNTHWATCH_DATABASE_URL", None)
    if args.soak:
        soak(args.soak, args.soak_interval, dict(args.settings))
        return 0
    steps: list[Callable[[], None]] = []
    if not args.no_crawl:
        spec = SiteSpec.for_pages(args.pages)
        postgres = os.environ.get(POSTGRES_ENV) or None
        steps.append(
            lambda: report_crawls(spec, crawl_rounds(spec, args.rounds, postgres), args.rounds)
        )
    if not args.no_nlp:
        before = None
        if args.against:
            from bench import nlp_before

            before = nlp_before.load(args.against).Analyser
        steps.append(
            lambda: throughput_nlp.report(
                throughput_nlp.measure(args.texts, args.rounds, before=before),
                args.texts,
                args.rounds,
                args.against,
            )
        )
    for step in steps:
        step()
    return 0


if __name__ == "__main__":
    sys.exit(main())
