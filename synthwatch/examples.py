"""One example (or more) per command, shown under ``--help``; a test parses every one."""

from __future__ import annotations

import argparse

# Command path -> example command lines. A group's help lists the examples of its actions.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "demo": ("synthwatch demo", "synthwatch demo --no-serve --json --port 8080"),
    "sources check": ("synthwatch sources check sources/*.toml",),
    "sources propose": ("synthwatch sources propose sources/shops.toml",),
    "sources list": ("synthwatch sources list",),
    "sources approve": (
        'synthwatch sources approve demo-forum --as lou --basis "Public forum; legal memo 12"',
    ),
    "sources suspend": (
        'synthwatch sources suspend demo-forum --as lou --reason "Site asked us to stop"',
    ),
    "crawl": ("synthwatch crawl demo-forum --sources var/demo-sources.toml --timeout 600",),
    "crawl-runs": ("synthwatch crawl-runs --source demo-forum --limit 5",),
    "schedule": (
        "synthwatch schedule --sources sources/shops.toml",
        "synthwatch schedule --sources sources/shops.toml --list",
    ),
    "analyse": (
        "synthwatch analyse page.txt",
        "synthwatch analyse --jsonl texts.jsonl --out analysed.jsonl",
    ),
    "eval": ("synthwatch eval tests/fixtures/nlp/dev.jsonl",),
    "evidence verify": ("synthwatch evidence verify", "synthwatch evidence verify --run 3"),
    "evidence verify-package": (
        "synthwatch evidence verify-package case-7.zip --public-key signer.pub",
    ),
    "referral build": ("synthwatch referral build 7 --as lou --out case-7.zip",),
    "referral verify": ("synthwatch referral verify case-7.zip --public-key signer.pub",),
    "referral keygen": ("synthwatch referral keygen",),
    "referral public-key": ("synthwatch referral public-key --pem",),
    "search": ("synthwatch search '\"pressed pills\" OR fentanyl*' --flag flagged --limit 5",),
    "audit verify": ("synthwatch audit verify --checkpoint audit.checkpoint",),
    "audit export": ("synthwatch audit export --out audit.jsonl --checkpoint audit.checkpoint",),
    "audit checkpoint": ("synthwatch audit checkpoint --out audit.checkpoint",),
    "users add": ("synthwatch users add ana --role analyst",),
    "users list": ("synthwatch users list",),
    "users disable": ("synthwatch users disable ana",),
    "users set-role": ("synthwatch users set-role ana legal",),
    "users api-key create": ("synthwatch users api-key create ana --name 'case dashboard'",),
    "users api-key list": ("synthwatch users api-key list", "synthwatch users api-key list ana"),
    "users api-key revoke": ("synthwatch users api-key revoke swk_1a2b3c4d",),
    "digest preview": ("synthwatch digest preview --week 2026-W48 --out digest.html --as ana",),
    "digest send": ("synthwatch digest send", "synthwatch digest send --week 2026-W48"),
    "digest outbox": ("synthwatch digest outbox --status failed",),
    "digest retry": ("synthwatch digest retry 12",),
    "digest subscribe": ("synthwatch digest subscribe ana ana@team.example",),
    "digest unsubscribe": ("synthwatch digest unsubscribe ana",),
    "digest recipients": ("synthwatch digest recipients",),
    "alerts send": ("synthwatch alerts send",),
    "alerts outbox": (
        "synthwatch alerts outbox --status failed",
        "synthwatch alerts outbox --json",
    ),
    "alerts retry": ("synthwatch alerts retry 7",),
    "db upgrade": ("synthwatch db upgrade",),
    "worker": ("synthwatch worker --init", "synthwatch worker --sources sources.toml --crawls 4"),
    "jobs": ("synthwatch jobs", "synthwatch jobs --json"),
    "serve": ("synthwatch serve --port 8080",),
}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Return the parsers of a parser's subcommands by name (empty for a leaf command)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_paths(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Return every command and group below ``parser`` by its path ("digest send")."""
    found: dict[str, argparse.ArgumentParser] = {}
    for name, child in subcommands(parser).items():
        path = f"{prefix} {name}".strip()
        found[path] = child
        found |= command_paths(child, path)
    return found


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Give every command's help an epilog with its examples (a group's: its actions')."""
    for path, child in command_paths(parser).items():
        lines = [line for key, ex in EXAMPLES.items() if _within(key, path) for line in ex]
        if lines:
            child.epilog = (
                "example" + ("s" if len(lines) > 1 else "") + ":\n  " + "\n  ".join(lines)
            )
            child.formatter_class = argparse.RawDescriptionHelpFormatter


def _within(key: str, path: str) -> bool:
    return key == path or key.startswith(path + " ")
