"""``synthwatch users``: add, list, disable (never delete) and change roles of review users."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from rich.table import Table

from review.users import create_user, disable_user, find_user, set_role
from storage.models import ROLES
from storage.users import all_users
from synthwatch.commands.common import Subparsers, open_store, out, read_password


def register(sub: Subparsers) -> None:
    users = sub.add_parser("users", help="review-app users (disabled, never deleted)")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a user; the password is asked for")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.set_defaults(handler=add_user)

    actions.add_parser("list", help="list users").set_defaults(handler=list_users)

    disable = actions.add_parser("disable", help="disable a user (their sessions end)")
    disable.add_argument("username")
    disable.set_defaults(handler=disable_one)

    role = actions.add_parser("set-role", help="change a user's role")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(handler=change_role)


def add_user(args: argparse.Namespace) -> int:
    """Add a user with a role and a password read from the terminal or a pipe."""
    password = read_password(f"password for {args.username}: ")
    with open_store().sessions() as session:
        create_user(session, username=args.username, password=password, role=args.role, now=_now())
    out.print(f"user {args.username} ({args.role}) added", highlight=False)
    return 0


def list_users(args: argparse.Namespace) -> int:
    """List users with their role and whether they are active."""
    table = Table("user", "role", "active", "created")
    with open_store().sessions() as session:
        for user in all_users(session):
            table.add_row(
                user.username,
                user.role,
                "yes" if user.active else "disabled",
                user.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            )
    out.print(table)
    return 0


def disable_one(args: argparse.Namespace) -> int:
    """Disable a user; the row and its history stay."""
    with open_store().sessions() as session:
        disable_user(session, find_user(session, args.username), now=_now())
    out.print(f"user {args.username} disabled", highlight=False)
    return 0


def change_role(args: argparse.Namespace) -> int:
    """Change a user's role."""
    with open_store().sessions() as session:
        set_role(session, find_user(session, args.username), args.role, now=_now())
    out.print(f"user {args.username} is now {args.role}", highlight=False)
    return 0


def _now() -> datetime:
    return datetime.now(UTC)
