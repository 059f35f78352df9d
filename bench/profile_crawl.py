"""Profile one SynthWatch crawl of the generated site with cProfile, in every thread of the crawl.

The crawl runs as a child process, as `crawlers.runner` runs it (the same environment and
settings, `bench.crawl_runs.FAST`), with a profiler in the reactor thread and one in each
thread it starts (the store writer, DNS). The report groups own time by area (nlp, WARC,
storage, crawlers, Scrapy, Twisted, lxml, SQLAlchemy, ...) and lists the top functions, the
reactor thread apart from the others: the reactor thread is what bounds pages/s. cProfile
roughly doubles the cost of Python calls, so read shares, not milliseconds.

Run: ``python -m bench.profile_crawl [--pages N] [--novel] [--postgres] [--top N]``
(``--postgres`` uses SYNTHWATCH_TEST_POSTGRES_URL); ``--save FILE`` keeps the pstats dumps.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.crawl_runs import FAST, SOURCE_ID, open_home, postgres_database, write_source
from bench.site import GeneratedSite, SiteSpec
from bench.site_server import SiteServer
from crawlers.runner import crawl_env

POSTGRES_ENV = "SYNTHWATCH_TEST_POSTGRES_URL"
# Where a function's file is, by the first of these found in its path, and the area it counts in.
AREAS = (
    ("/nlp/", "nlp (ours)"),
    ("/storage/warc", "WARC (ours)"),
    ("/crawlers/evidence", "WARC (ours)"),
    ("/warcio/", "warcio"),
    ("/storage/", "storage (ours)"),
    ("/crawlers/", "crawlers (ours)"),
    ("/spacy/", "spaCy"),
    ("/thinc/", "spaCy"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/psycopg", "psycopg"),
    ("/scrapy/", "Scrapy"),
    ("/twisted/", "Twisted"),
    ("/parsel/", "parsel/lxml"),
    ("/lxml/", "parsel/lxml"),
    ("/w3lib/", "w3lib"),
    ("/bs4/", "bs4"),
    ("/logging/", "logging"),
)


def area(filename: str, name: str) -> str:
    """Return the area a profiled function counts in."""
    for marker, label in AREAS:
        if marker in filename:
            return label
    if filename == "~":
        # A C function: sort the well-known ones, the rest is "builtins".
        for marker, label in (("sqlite3", "sqlite3"), ("lxml", "parsel/lxml"), ("zlib", "zlib")):
            if marker in name:
                return label
        if "fsync" in name:
            return "fsync"
        return "builtins (C)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/python3" in filename:
        return "stdlib " + Path(filename).stem
    return "other Python"


def process_cpu() -> float:
    """Return the user + system CPU seconds of this process, its ended threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(out: str, argv: list[str], *, profile: bool = True) -> None:
    """Run `scrapy` with argv, profiling every thread; dump each thread's stats to out.N.

    Also print the crawl's wall time and each thread's CPU over it: a reactor thread busy all
    the time is what bounds pages/s; one that idles waits for something (backpressure).
    """
    profilers: list[tuple[str, cProfile.Profile]] = []
    clock: dict[str, Any] = {}
    lock = threading.Lock()

    def start(*_: object) -> None:
        sys.setprofile(None)
        profiler = cProfile.Profile()
        with lock:
            profilers.append((threading.current_thread().name, profiler))
        profiler.enable()

    main = cProfile.Profile()
    profilers.append(("reactor", main))

    def opened() -> None:
        # From here on: the crawl, not the start-up (imports, the spaCy pipeline, migrations).
        clock["opened"] = (time.monotonic(), time.thread_time(), process_cpu())
        if profile:
            threading.setprofile(start)
            main.enable()

    def closed() -> None:
        main.disable()
        threading.setprofile(None)
        wall, reactor, whole = clock["opened"]
        wall, reactor = time.monotonic() - wall, time.thread_time() - reactor
        others = process_cpu() - whole - reactor
        print(
            f"crawl: {wall:.2f} s wall, reactor thread CPU {reactor:.2f} s "
            f"({100 * reactor / wall:.0f}% busy), other threads {others:.2f} s",
            file=sys.stderr,
        )

    from pydispatch import dispatcher
    from scrapy import signals
    from scrapy.cmdline import execute

    # Any sender: the crawler's signal manager sends with itself as the sender.
    dispatcher.connect(opened, signal=signals.spider_opened, weak=False)
    dispatcher.connect(closed, signal=signals.spider_closed, weak=False)
    try:
        execute(["scrapy", *argv])
    except SystemExit:
        pass
    finally:
        main.disable()
        threading.setprofile(None)
        for n, (name, profiler) in enumerate(profilers if profile else []):
            try:
                profiler.dump_stats(f"{out}.{n}.{name}")
            except TypeError:  # a thread's profiler that saw no call
                continue


def stats_of(paths: list[Path]) -> pstats.Stats | None:
    """Return the merged stats of some dumps, or None without any."""
    stats = None
    for path in paths:
        if stats is None:
            stats = pstats.Stats(str(path))
        else:
            stats.add(str(path))
    return stats


def report(title: str, stats: pstats.Stats, top: int, pages: int) -> None:
    """Print own time by area and the top functions by own and by cumulative time."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in raw.values()) or 1e-9
    by_area: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        by_area[area(filename, name)] += tt
    print(f"\n== {title}: {total:.1f} s own time, {1000 * total / pages:.2f} ms/page (profiled)")
    for label, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        if seconds / total >= 0.005:
            print(f"  {label:<20} {seconds:7.2f} s {100 * seconds / total:5.1f}%")
    for key, heading in (("tottime", "own time"), ("cumulative", "cumulative")):
        print(f"-- top {top} by {heading}")
        rows = sorted(raw.items(), key=lambda kv: -kv[1][2 if key == "tottime" else 3])
        for (filename, line, name), (_cc, nc, tt, ct, _callers) in rows[:top]:
            where = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
            print(f"  {tt:6.2f} {ct:7.2f} {nc:9,}  {name} {where}:{line}")


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    """Yield the database URL of the crawl: SQLite in the home (''), or a PostgreSQL one."""
    if not postgres:
        yield ""
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        raise SystemExit(f"--postgres needs {POSTGRES_ENV}")
    with postgres_database(server) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    """Crawl the generated site once under the profiler and print the report."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        child(args[1], args[2:])
        return 0
    if args[:1] == ["--child-plain"]:
        child(args[1], args[2:], profile=False)
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_crawl", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--pages", type=int, default=501, help="pages of the site")
    parser.add_argument("--novel", action="store_true", help="novel-vocabulary listing text")
    parser.add_argument("--postgres", action="store_true", help=f"into {POSTGRES_ENV}")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--save", type=Path, help="keep the pstats dumps with this prefix")
    parser.add_argument(
        "-s",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra Scrapy setting of the crawl (repeatable)",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="only the wall time and CPU by thread"
    )
    parsed = parser.parse_args(args)
    os.environ.pop("SYNTHWATCH_DATABASE_URL", None)
    spec = SiteSpec.for_pages(parsed.pages, novel=parsed.novel)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="synthwatch-prof-")))
        server = stack.enter_context(SiteServer(GeneratedSite(spec)))
        url = stack.enter_context(database(parsed.postgres))
        sources = write_source(spec, server.base_url, tmp / "sources.toml")
        env = crawl_env(
            {**os.environ, **open_home(tmp / "home", sources, url)}, [sources], allow_loopback=True
        )
        out = str(parsed.save or tmp / "prof")
        mode = "--child-plain" if parsed.no_profile else "--child"
        command = [sys.executable, "-m", "bench.profile_crawl", mode, out, "crawl", SOURCE_ID]
        for name, value in FAST.items():
            command += ["-s", f"{name}={value}"]
        for setting in parsed.settings:
            command += ["-s", setting]
        subprocess.run(command, env=env, check=True)
        dumps = sorted(Path(out).parent.glob(Path(out).name + ".*"))
        reactor = [p for p in dumps if p.name.endswith(".reactor")]
        others = [p for p in dumps if p not in reactor]
        for title, paths in (("reactor thread", reactor), ("other threads", others)):
            stats = stats_of(paths)
            if stats is not None:
                report(title, stats, parsed.top, spec.pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
