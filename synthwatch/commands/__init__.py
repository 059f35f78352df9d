"""The subcommands of ``synthwatch``: each module adds its parser and handlers."""

from __future__ import annotations

from synthwatch.commands import (
    app,
    crawls,
    demo,
    digest,
    evidence,
    schedule,
    sources,
    users,
)

MODULES = (demo, sources, crawls, schedule, evidence, users, digest, app)
