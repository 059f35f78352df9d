"""Run one crawl as a child process: `python -m scrapy crawl <source-id>`, with a timeout.

Twisted's reactor cannot be restarted, so every crawl is its own process; the scheduler and
`synthwatch demo` call `run_crawl`. The child gets `SCRAPY_SETTINGS_MODULE=crawlers.settings`,
the source files and the storage environment, runs in its own process group (killed as a
whole on timeout: SIGTERM, then SIGKILL after a grace period), and writes its output to
`<SYNTHWATCH_HOME>/logs/<source>-<time>.log` and its crawl run id, final status and process id
to a JSON file beside it. That file is also the readiness handshake: the crawl's timeout starts
when the child first writes it (its crawl run is open), so a slow start on a loaded machine
(Python, Scrapy and spaCy imports) does not eat into the crawl's time; the start-up has its own
bound. Without a contact URL (`SYNTHWATCH_CONTACT_URL`, in the environment
given or inherited, or as a setting) no child is started: `ConfigError` names the variable.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from crawlers.identity import CONTACT_SETTING, require_contact
from crawlers.sources import SOURCE_ID
from storage.clock import utcnow
from storage.config import StorageSettings

SETTINGS_MODULE = "crawlers.settings"
# How often the runner looks for the child's run file while it starts up.
POLL_SECONDS = 0.05
# prctl(2) option: the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class CrawlOutcome:
    """How a crawl process ended."""

    source_id: str
    exit_code: int | None
    duration: float
    log_path: Path
    run_id: int | None = None
    status: str | None = None
    error: str | None = None
    timed_out: bool = False
    startup: float = 0.0

    @property
    def ok(self) -> bool:
        """Tell whether the process exited cleanly and its crawl run finished."""
        return self.exit_code == 0 and not self.timed_out and self.status == "finished"


def crawl_env(
    base: Mapping[str, str], sources: list[Path], *, allow_loopback: bool
) -> dict[str, str]:
    """Return the environment of a crawl child process."""
    env = dict(base)
    env["SCRAPY_SETTINGS_MODULE"] = SETTINGS_MODULE
    env["SYNTHWATCH_SOURCES"] = os.pathsep.join(str(Path(p).resolve()) for p in sources)
    if allow_loopback:
        env["SYNTHWATCH_ALLOW_LOOPBACK"] = "1"
    else:
        env.pop("SYNTHWATCH_ALLOW_LOOPBACK", None)
    return env


def run_crawl(
    source_id: str,
    *,
    sources: list[Path],
    env: Mapping[str, str] | None,
    timeout: float,
    allow_loopback: bool = False,
    settings: Mapping[str, str] | None = None,
    grace: float = 10.0,
    startup_timeout: float = 120.0,
    die_with_parent: bool = False,
) -> CrawlOutcome:
    """Crawl one source in a child process and wait for it, at most `timeout` seconds.

    The `timeout` counts from the moment the child reports its crawl run open; until then it
    has `startup_timeout` seconds. `CrawlOutcome.duration` counts from the start of the process,
    `startup` is how long the runner waited for the report.

    The child inherits this process's environment with `env` set on top (e.g. SYNTHWATCH_HOME,
    SYNTHWATCH_DATABASE_URL); `settings` are extra Scrapy settings, passed as `-s NAME=VALUE`.
    Raises ConfigError, before starting anything, when no valid contact URL is given.
    `die_with_parent` (Linux) kills the child when this process dies, even by SIGKILL: a crawl
    worker's job is retried elsewhere then, and an orphan would crawl its hosts beside the retry.
    """
    if not SOURCE_ID.match(source_id):
        raise ValueError(f"not a source id: {source_id!r}")
    child_env = crawl_env({**os.environ, **(env or {})}, sources, allow_loopback=allow_loopback)
    require_contact((settings or {}).get(CONTACT_SETTING) or child_env.get(CONTACT_SETTING))
    logs = StorageSettings.from_env(child_env).home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    log_path = logs / f"{source_id}-{stamp}.log"
    run_file = logs / f"{source_id}-{stamp}.json"
    command = [sys.executable, "-m", "scrapy", "crawl", source_id]
    command += ["-s", f"SYNTHWATCH_RUN_FILE={run_file}"]
    for name, value in (settings or {}).items():
        command += ["-s", f"{name}={value}"]

    started = time.monotonic()
    startup = 0.0
    timed_out = False
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_parent_death_signal() if die_with_parent else None,
        )
        try:
            reported = _started(process, run_file, startup_timeout)
            startup = time.monotonic() - started
            if not reported:
                raise subprocess.TimeoutExpired(command, startup_timeout)
            exit_code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            exit_code = _stop(process, grace)
        except BaseException:
            _stop(process, 0)
            raise
    ended = time.monotonic()
    run = _read_run_file(run_file)
    run_id, status, error = run.get("crawl_run_id"), run.get("status"), run.get("error")
    return CrawlOutcome(
        source_id=source_id,
        exit_code=exit_code,
        duration=ended - started,
        log_path=log_path,
        run_id=run_id if isinstance(run_id, int) else None,
        status=status if isinstance(status, str) else None,
        error=error if isinstance(error, str) else None,
        timed_out=timed_out,
        startup=startup,
    )


def _parent_death_signal() -> Callable[[], None]:
    """Return a pre-exec hook asking Linux to SIGKILL the child when its parent dies."""
    # Resolved before the fork: the hook in the child only calls into libc.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the hook ran
            os._exit(1)

    return hook


def _started(process: subprocess.Popen[bytes], run_file: Path, timeout: float) -> bool:
    """Wait until the child wrote its run file or exited; False if neither came in time."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and not _read_run_file(run_file).get("status"):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _stop(process: subprocess.Popen[bytes], grace: float) -> int | None:
    """Stop the child's process group: SIGTERM (Scrapy closes gracefully), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            return process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return process.poll()


def _read_run_file(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
