"""``synthwatch evidence verify``: re-read WARC records and re-check their SHA-256."""

from __future__ import annotations

import argparse

from storage.crawls import captures_to_verify
from storage.warc import read_capture
from synthwatch.commands.common import Subparsers, err, open_store, out
from synthwatch.commands.referral import add_verify_arguments, verify_package_command


def register(sub: Subparsers) -> None:
    evidence = sub.add_parser("evidence", help="the WARC evidence of captured pages")
    actions = evidence.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="re-check captures' hashes (default: each source's latest crawl run)"
    )
    scope = verify.add_mutually_exclusive_group()
    scope.add_argument("--all", action="store_true", help="check every capture")
    scope.add_argument("--run", type=int, metavar="ID", help="check the captures of one run")
    verify.set_defaults(handler=verify_evidence)
    package = actions.add_parser(
        "verify-package",
        help="check a referral package's signature and hashes; exit 1 on any change",
    )
    add_verify_arguments(package)
    package.set_defaults(handler=verify_package_command)


def verify_evidence(args: argparse.Namespace) -> int:
    """Print every capture whose record is missing or whose hash differs; exit 1 if any."""
    store = open_store()
    checked = bad = 0
    with store.sessions() as session:
        for capture in captures_to_verify(session, run_id=args.run, everything=args.all):
            checked += 1
            check = read_capture(store.settings.home, capture)
            if not check.verified:
                bad += 1
                out.print(
                    f"MISMATCH capture {capture.id} ({capture.url}): {check.message}",
                    highlight=False,
                )
    err.print(f"{checked} captures checked, {bad} mismatched", highlight=False)
    return 1 if bad else 0
