"""``synthwatch evidence verify``: re-read WARC records and re-check their SHA-256."""

from __future__ import annotations

import argparse

from storage.crawls import captures_to_verify, count_captures
from storage.models import CrawlRun
from storage.warc import verify_captures
from synthwatch.commands.common import Subparsers, err, open_store, out, record_id
from synthwatch.commands.referral import add_verify_arguments, verify_package_command
from synthwatch.errors import UsageError


def register(sub: Subparsers) -> None:
    evidence = sub.add_parser("evidence", help="the WARC evidence of captured pages")
    actions = evidence.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="re-check captures' records and their files (default: each source's latest crawl"
        " run with captures)",
    )
    scope = verify.add_mutually_exclusive_group()
    scope.add_argument("--all", action="store_true", help="check every capture")
    scope.add_argument("--run", type=record_id, metavar="ID", help="check the captures of one run")
    verify.set_defaults(handler=verify_evidence)
    package = actions.add_parser(
        "verify-package",
        help="check a referral package's signature and hashes; exit 1 on any change",
    )
    add_verify_arguments(package)
    package.set_defaults(handler=verify_package_command)


def verify_evidence(args: argparse.Namespace) -> int:
    """Print every capture or file that is missing or changed; exit 1 if any, or none checked."""
    store = open_store()
    checked = bad = files = 0
    with store.sessions() as session:
        if args.run is not None and session.get(CrawlRun, args.run) is None:
            raise UsageError(
                f"there is no crawl run {args.run}; `synthwatch crawl-runs` lists them"
            )
        captures = captures_to_verify(session, run_id=args.run, everything=args.all)
        for finding in verify_captures(store.settings.evidence_store(), captures):
            capture = finding.capture
            if capture is None:
                files += 1
                if not finding.verified:
                    out.print(f"MISMATCH file {finding.message}", highlight=False)
                elif "not recorded" in finding.message:
                    err.print(f"note: {finding.message}", highlight=False)
            else:
                checked += 1
                if not finding.verified:
                    out.print(
                        f"MISMATCH capture {capture.id} ({capture.url}): {finding.message}",
                        highlight=False,
                    )
            bad += not finding.verified
        total = count_captures(session)
    err.print(f"{checked} captures in {files} files checked, {bad} mismatched", highlight=False)
    if checked < total and not args.all and args.run is None:
        err.print(
            f"{total - checked} captures of older runs not checked: use --all", highlight=False
        )
    if not checked:
        if args.run is not None:
            err.print(f"crawl run {args.run} has no captures: nothing verified", highlight=False)
            return 1
        err.print("no captures are recorded yet", highlight=False)
    return 1 if bad else 0
