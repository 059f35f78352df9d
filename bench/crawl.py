"""Crawl throughput on the demo site: bare Scrapy, then the whole SynthWatch pipeline.

Both crawls fetch the same pages from one demo server on 127.0.0.1, in this process's run, with
the same politeness (one request per host at a time, no delay); the ratio is what the guard,
robots, WARC evidence, extraction and storage cost. Pages/s use Scrapy's own elapsed time, so
process start-up is left out of both. Run: ``make bench`` (``python -m bench.crawl [--rounds N]``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from crawlers.runner import run_crawl
from crawlers.sources import load_sources
from demo.server import DemoServer
from storage.config import StorageSettings
from storage.models import CrawlRun
from synthwatch.demo import approve_demo_sources, ensure_demo_users, render_sources
from synthwatch.store import Store

FAST = {
    "DOWNLOAD_DELAY": "0",
    "SYNTHWATCH_LOOPBACK_DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True, slots=True)
class Measure:
    pages: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.pages / self.elapsed if self.elapsed else 0.0


def bare_round(sources_file: Path, source_ids: list[str]) -> Measure:
    pages, elapsed = 0, 0.0
    for source_id in source_ids:
        out = subprocess.run(
            [sys.executable, "-m", "bench.bare_spider", str(sources_file), source_id],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        pages, elapsed = pages + result["pages"], elapsed + result["elapsed"]
    return Measure(pages, elapsed)


def pipeline_round(sources_file: Path, source_ids: list[str], home: Path) -> Measure:
    env = {
        "SYNTHWATCH_HOME": str(home),
        "SYNTHWATCH_DATABASE_URL": "",
        "SYNTHWATCH_CONTACT_URL": "http://127.0.0.1/contact",
    }
    store = Store.open(StorageSettings.from_env(env), migrate=True)
    now = datetime.now(UTC)
    with store.sessions() as session:
        ensure_demo_users(session, now)
        approve_demo_sources(session, load_sources(sources_file), now)
    run_ids = []
    for source_id in source_ids:
        outcome = run_crawl(
            source_id,
            sources=[sources_file],
            env=env,
            timeout=600,
            allow_loopback=True,
            settings=FAST,
        )
        if not outcome.ok or outcome.run_id is None:
            raise SystemExit(f"pipeline crawl of {source_id} failed; see {outcome.log_path}")
        run_ids.append(outcome.run_id)
    with store.sessions() as session:
        runs = session.scalars(select(CrawlRun).where(CrawlRun.id.in_(run_ids))).all()
        pages = sum(int(run.stats.get("downloader/response_count", 0)) for run in runs)
        elapsed = sum(float(run.stats.get("elapsed_time_seconds", 0.0)) for run in runs)
    store.engine.dispose()
    return Measure(pages, elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each crawl (median)")
    args = parser.parse_args(argv)
    os.environ.pop("SYNTHWATCH_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="synthwatch-bench-") as tmp, DemoServer() as site:
        sources_file = render_sources(site.base_url, Path(tmp) / "sources.toml")
        source_ids = [source.id for source in load_sources(sources_file)]
        bare, full = [], []
        for round_no in range(args.rounds):
            bare.append(bare_round(sources_file, source_ids))
            full.append(pipeline_round(sources_file, source_ids, Path(tmp) / f"home-{round_no}"))
    report("bare Scrapy", bare)
    report("SynthWatch pipeline", full)
    ratio = statistics.median(m.rate for m in full) / statistics.median(m.rate for m in bare)
    print(f"pipeline / bare throughput: {ratio:.2f}x")
    return 0


def report(label: str, measures: list[Measure]) -> None:
    rates = [m.rate for m in measures]
    print(
        f"{label:<20} {statistics.median(rates):7.1f} pages/s  "
        f"(median of {len(rates)}; pages per round {measures[0].pages}; "
        f"rates {', '.join(f'{r:.1f}' for r in rates)})"
    )


if __name__ == "__main__":
    sys.exit(main())
