"""The subcommands of ``synthwatch``: each module adds its parser and handlers."""

from __future__ import annotations

from synthwatch.commands import app, crawls, demo, evidence, sources, users

MODULES = (demo, sources, crawls, evidence, users, app)
