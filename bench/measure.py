"""CPU and memory of a crawl child process, read from outside it (Linux `/proc`, getrusage).

A crawl's CPU is counted from the moment its crawl opened to its exit: the child's whole CPU
(`RUSAGE_CHILDREN` delta around it) less what it had spent when it opened (imports, the spaCy
pipeline and the lexicon), so start-up, which a long crawl pays once, is left out. The child's
resident memory is sampled from `/proc/PID/status` every few seconds; its peak is the kernel's
high-water mark (`VmHWM`), so a spike between two samples is still counted.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
TICKS = os.sysconf("SC_CLK_TCK")
# How often the watcher looks for the crawl child's run file before it is found.
FIND_POLL_SECONDS = 0.02


def children_cpu() -> float:
    """Return the user + system CPU seconds of this process's waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float | None:
    """Return a live process's user + system CPU seconds, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def process_memory(pid: int) -> tuple[int, int] | None:
    """Return a live process's (resident, peak resident) bytes, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    if "VmRSS" not in values:
        return None
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the crawl child: seconds since it opened, requests served, resident bytes."""

    seconds: float
    requests: int
    rss: int


@dataclass(slots=True)
class Watched(Generic[T]):
    """What a watched crawl returned, and what it cost from its opening to its exit."""

    result: T
    cpu: float = 0.0
    peak_rss: int = 0
    samples: list[Sample] = field(default_factory=list)


def run_file_pid(logs: Path, before: set[Path]) -> int | None:
    """Return the pid of a crawl child whose run file appeared in `logs` and says running."""
    for path in set(logs.glob("*.json")) - before:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        pid = data.get("pid") if isinstance(data, dict) else None
        if isinstance(pid, int) and data.get("status") == "running":
            return pid
    return None


def watch(
    run: Callable[[], T],
    find_pid: Callable[[], int | None],
    *,
    interval: float,
    requests: Callable[[], int] = lambda: 0,
    on_sample: Callable[[Sample], None] | None = None,
) -> Watched[T]:
    """Run `run` (which starts and waits for one child) in a thread and watch that child.

    `find_pid` names the child once it has opened its crawl; from then on its memory is sampled
    every `interval` seconds (and `on_sample` told), with `requests()` served so far.
    """
    box: dict[str, T] = {}
    failure: list[BaseException] = []

    def target() -> None:
        try:
            box["result"] = run()
        except BaseException as exc:  # re-raised in the caller's thread below
            failure.append(exc)

    cpu_before = children_cpu()
    thread = threading.Thread(target=target, name="bench-crawl", daemon=True)
    thread.start()
    pid = None
    while pid is None and thread.is_alive():
        pid = find_pid()
        if pid is None:
            time.sleep(FIND_POLL_SECONDS)
    cpu_at_open = process_cpu(pid) if pid is not None else None
    opened = time.monotonic()
    samples: list[Sample] = []
    peak = 0
    while pid is not None and thread.is_alive():
        memory = process_memory(pid)
        if memory is None:
            break
        peak = max(peak, memory[1])
        sample = Sample(time.monotonic() - opened, requests(), memory[0])
        samples.append(sample)
        if on_sample is not None:
            on_sample(sample)
        thread.join(interval)
    thread.join()
    if failure:
        raise failure[0]
    cpu = children_cpu() - cpu_before - (cpu_at_open or 0.0)
    return Watched(box["result"], cpu=cpu, peak_rss=peak, samples=samples)
