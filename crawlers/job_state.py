"""Where each source's scheduled job stands: its ledger id, last claim, whether a catch-up is due,
and the description `synthwatch schedule --list` prints."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crawlers.runner import CrawlOutcome
from crawlers.sources import SourceConfig, scope_fingerprint
from storage.models import ScheduleLedger
from storage.periods import period_start, trigger_for
from storage.schedule import (
    last_period,
)
from storage.sources import approval_state


def job_id(source_id: str) -> str:
    """Return the ledger's job id of a source's crawls."""
    return f"crawl:{source_id}"


def last_claim(session: Session, source_id: str) -> ScheduleLedger | None:
    """Return the ledger row of the latest period of a source that any scheduler claimed."""
    return last_period(session, job_id(source_id))


def catch_up_due(session: Session, source: SourceConfig, now: datetime) -> bool:
    """Tell whether the source's latest period is unclaimed, so it should run at once."""
    latest = period_start(source, now)
    if latest is None:
        return False
    claimed = last_claim(session, source.id)
    return claimed is None or claimed.period_start < latest


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What the scheduler does with one source; `next_run` is None when it has no job."""

    source_id: str
    schedule: str
    approval: str
    next_run: datetime | None
    catch_up: bool
    last_period: datetime | None
    last_status: str | None


def describe_jobs(
    session: Session, sources: Iterable[SourceConfig], *, now: datetime
) -> list[JobInfo]:
    """Describe each source's job: approval, next run (now for a catch-up), last period."""
    infos: list[JobInfo] = []
    for source in sources:
        state = approval_state(session, source.id, scope_fingerprint(source))
        last = last_claim(session, source.id)
        catch_up = state == "approved" and catch_up_due(session, source, now)
        next_run = None
        if state == "approved":
            next_run = now if catch_up else trigger_for(source).get_next_fire_time(None, now)
        infos.append(
            JobInfo(
                source_id=source.id,
                schedule=source.schedule,
                approval=state,
                next_run=next_run,
                catch_up=catch_up,
                last_period=last.period_start if last else None,
                last_status=last.status if last else None,
            )
        )
    return infos


def default_holder() -> str:
    """Return a holder id unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:200]


def ledger_detail(outcome: CrawlOutcome, timeout: float) -> str:
    """Say in a line how a crawl process ended, for the ledger."""
    if outcome.timed_out:
        why = f"killed after the {timeout:.0f} s timeout"
    elif outcome.error:
        why = outcome.error
    elif outcome.exit_code != 0:
        why = f"exit code {outcome.exit_code}"
    else:
        why = f"crawl run {outcome.status or 'unknown'}"
    return f"{why}; log {outcome.log_path}"
