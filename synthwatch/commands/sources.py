"""``synthwatch sources``: check, propose, list, approve and suspend sources.

Approving prints the source's scope and its fingerprint, then asks for the password of a user
with the legal role; the approval is bound to the fingerprint printed (or the one pinned with
``--fingerprint``), and refused if another scope was registered meanwhile. Suspending stops
every future crawl. An empty sources file fails ``check``: a file that defines no source is a
mistake (a wrong path or a TOML table named other than ``[[source]]``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from crawlers.errors import SourceError
from crawlers.registry import register_source
from crawlers.sources import SourceConfig, load_sources
from review.auth import authenticate
from review.errors import NotFoundError
from review.sources import (
    APPROVAL_PURPOSE,
    approval_rows,
    approve_source,
    confirm_approver,
    record_proposal,
    registered_source,
    short_fingerprint,
    suspend_source,
)
from storage.models import Source, User
from storage.sources import all_sources, approval_state
from synthwatch.commands.common import Subparsers, err, open_store, out, read_password
from synthwatch.errors import UsageError
from synthwatch.store import Store


def register(sub: Subparsers) -> None:
    sources = sub.add_parser("sources", help="source definitions and their legal approval")
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")

    check = actions.add_parser(
        "check", help="validate source files; name each error's line; an empty file fails"
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.set_defaults(handler=check_files)

    propose = actions.add_parser("propose", help="register the sources of a file for approval")
    propose.add_argument("files", nargs="+", type=Path, metavar="FILE")
    propose.set_defaults(handler=propose_sources)

    listing = actions.add_parser("list", help="list registered sources and their approval")
    listing.set_defaults(handler=list_sources)

    approve = actions.add_parser("approve", help="approve a source's current scope (legal role)")
    approve.add_argument("source", help="source id")
    approve.add_argument("--as", dest="user", required=True, help="a user with the legal role")
    approve.add_argument("--basis", required=True, help="the legal basis of the approval")
    approve.add_argument(
        "--fingerprint",
        metavar="F",
        help="approve only if the scope's fingerprint is F (as `sources approve` or the "
        "sources page showed it); without it, the fingerprint printed before the password prompt",
    )
    approve.set_defaults(handler=approve_one)

    suspend = actions.add_parser("suspend", help="stop crawling a source (legal or admin role)")
    suspend.add_argument("source", help="source id")
    suspend.add_argument("--as", dest="user", required=True, help="a legal or admin user")
    suspend.add_argument("--reason", required=True, help="why crawling stops")
    suspend.set_defaults(handler=suspend_one)


def check_files(args: argparse.Namespace) -> int:
    """Validate source files and print each source, or each error with its line."""
    failed = False
    for path in args.files:
        try:
            sources = load_sources(path)
        except SourceError as error:
            out.print(f"[red]{escape(str(error))}[/red]", highlight=False, soft_wrap=True)
            failed = True
            continue
        if not sources:
            empty = f"{path}: no [[source]] block, so no source to check"
            out.print(f"[red]{escape(empty)}[/red]", highlight=False, soft_wrap=True)
            failed = True
        for source in sources:
            out.print(f"{path}: source {source.id!r} is valid", highlight=False)
    return 1 if failed else 0


def propose_sources(args: argparse.Namespace) -> int:
    """Register each source of the files; a changed scope then needs a new approval."""
    sources = [source for path in args.files for source in _load(path)]
    now = datetime.now(UTC)
    with open_store().sessions() as session:
        for source in sources:
            register_source(session, source, now=now)
            state = record_proposal(session, source.id, now=now)
            out.print(f"{source.id}: registered, {state}", highlight=False)
    return 0


def list_sources(args: argparse.Namespace) -> int:
    """List registered sources with the approval state of their current scope."""
    table = Table("id", "name", "domains", "approval", "approved by", "legal basis")
    with open_store().sessions() as session:
        for source in all_sources(session):
            state = approval_state(session, source.id, source.scope_fingerprint)
            latest = source.approvals[-1] if source.approvals else None
            table.add_row(
                source.id,
                source.name,
                ", ".join(source.config.get("allowed_domains", [])),
                state,
                latest.approved_by.username if latest else "",
                latest.legal_basis if latest else "",
            )
    out.print(table)
    return 0


def approve_one(args: argparse.Namespace) -> int:
    """Approve a source's registered scope as a legal user confirmed by password."""
    store = open_store()
    with store.sessions() as session:
        source = _registered(session, args.source)
        shown = source.scope_fingerprint
        err.print(f"approving {source.id} ({source.name}) for this scope:", markup=False)
        for row in approval_rows(source.config):
            mark = " (scope)" if row.fingerprinted else ""
            line = f"  {row.label}{mark}: {', '.join(row.values) or '-'}"
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        err.print(f"  fingerprint: {shown}", markup=False, highlight=False)
    if args.fingerprint is not None and args.fingerprint != shown:
        raise UsageError(
            f"the scope of {args.source!r} has fingerprint {short_fingerprint(shown)}, not "
            f"{short_fingerprint(args.fingerprint)}: read the scope above and approve that one"
        )
    user = _confirm(store, args.user, purpose=APPROVAL_PURPOSE)
    now = datetime.now(UTC)
    with store.sessions() as session:
        approver = session.merge(user)
        # The scope printed above is the one approved: a scope registered while the password
        # was typed is refused here.
        approve_source(
            session,
            source_id=args.source,
            approver=approver,
            legal_basis=args.basis,
            fingerprint=shown,
            now=now,
        )
    out.print(f"{args.source}: approved by {args.user} (fingerprint {shown})", markup=False)
    return 0


def suspend_one(args: argparse.Namespace) -> int:
    """Suspend a source as a legal or admin user confirmed by password."""
    store = open_store()
    with store.sessions() as session:
        _registered(session, args.source)
    user = _confirm(store, args.user)
    with store.sessions() as session:
        suspend_source(
            session,
            source_id=args.source,
            actor=session.merge(user),
            reason=args.reason,
            now=datetime.now(UTC),
        )
    out.print(f"{args.source}: suspended; no crawl runs until it is approved again")
    return 0


def _confirm(store: Store, username: str, *, purpose: str | None = None) -> User:
    password = read_password(f"password of {username}: ")
    with store.sessions() as session:
        now = datetime.now(UTC)
        if purpose == APPROVAL_PURPOSE:
            user = confirm_approver(session, username=username, password=password, now=now)
        else:
            user = authenticate(session, username=username, password=password, now=now)
    if user is None:
        raise UsageError(f"wrong user name or password for {username!r}, or the user is disabled")
    return user


def _registered(session: Session, source_id: str) -> Source:
    try:
        return registered_source(session, source_id)
    except NotFoundError as error:
        raise UsageError(f"{error}: run `synthwatch sources propose FILE` first") from error


def _load(path: Path) -> list[SourceConfig]:
    try:
        sources = load_sources(path)
    except SourceError as error:
        raise UsageError(str(error)) from error
    if not sources:
        raise UsageError(f"{path}: no [[source]] block, so no source to propose")
    return sources
