"""The subcommands of ``synthwatch``: each module adds its parser and handlers."""

from __future__ import annotations

from synthwatch.commands import (
    alerts,
    analyse,
    app,
    audit,
    crawls,
    demo,
    digest,
    evidence,
    referral,
    schedule,
    search,
    sources,
    users,
    worker,
)

MODULES = (
    demo,
    sources,
    crawls,
    schedule,
    worker,
    analyse,
    evidence,
    referral,
    search,
    audit,
    users,
    digest,
    alerts,
    app,
)
