"""``synthwatch users``: add, list, disable (never delete) and change roles of review users, and
make, list and revoke their keys of the JSON API (``synthwatch users api-key``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from rich.table import Table

from review.users import create_user, disable_user, find_user, set_role
from review.views.api_requests import API_ROLES
from storage.api_keys import (
    all_api_keys,
    api_key_by_prefix,
    api_keys_of,
    create_api_key,
    revoke_api_key,
)
from storage.models import ROLES
from storage.users import all_users
from synthwatch.commands.common import Subparsers, err, open_store, out, read_password
from synthwatch.errors import UsageError


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

    keys = actions.add_parser("api-key", help="keys of the JSON API (shown once, stored hashed)")
    key_actions = keys.add_subparsers(dest="api_key_command", required=True, metavar="ACTION")
    make = key_actions.add_parser("create", help="make a key for a user; it is printed once")
    make.add_argument("username")
    make.add_argument("--name", required=True, help="what will use it")
    make.add_argument("--role", choices=ROLES, help="the key's role: the user's own (default)")
    make.set_defaults(handler=create_key)
    shown = key_actions.add_parser("list", help="list keys by prefix (never the keys)")
    shown.add_argument("username", nargs="?", help="only this user's keys")
    shown.set_defaults(handler=list_keys)
    revoke = key_actions.add_parser("revoke", help="revoke a key for good, by its prefix")
    revoke.add_argument("prefix", help="swk_ and 8 hex digits, as `api-key list` shows it")
    revoke.set_defaults(handler=revoke_key)


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


def create_key(args: argparse.Namespace) -> int:
    """Make an API key for a user and print it, the one time it is shown."""
    with open_store().sessions() as session:
        user = find_user(session, args.username)
        role = args.role or user.role
        if role not in API_ROLES:
            raise UsageError(
                f"the {role} role may use no API endpoint; keys are for {', '.join(API_ROLES)}"
            )
        key, token = create_api_key(session, user, name=args.name, role=role, now=_now())
        prefix = key.prefix
    err.print(
        f"API key {prefix} ({args.name}, {role}) made for {args.username}; it is shown "
        "only this once, on the line below:",
        highlight=False,
    )
    out.print(token, highlight=False, soft_wrap=True)
    return 0


def list_keys(args: argparse.Namespace) -> int:
    """List API keys with their owner, role and state; the keys themselves are nowhere."""
    table = Table("key", "user", "name", "role", "created", "last used", "state")
    with open_store().sessions() as session:
        if args.username:
            owner = find_user(session, args.username)
            found = [(key, owner) for key in api_keys_of(session, owner.id)]
        else:
            found = [(key, key.owner) for key in all_api_keys(session)]
        for key, owner in found:
            table.add_row(
                key.prefix,
                owner.username,
                key.name,
                key.role,
                _shown(key.created_at),
                _shown(key.last_used_at),
                "revoked" if key.revoked_at else "active" if owner.active else "user disabled",
            )
    out.print(table)
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    """Revoke an API key by its prefix."""
    with open_store().sessions() as session:
        key = api_key_by_prefix(session, args.prefix)
        if key is None:
            raise UsageError(
                f"no API key {args.prefix!r}; `synthwatch users api-key list` shows them"
            )
        revoke_api_key(session, key, now=_now())
    out.print(f"API key {args.prefix} revoked", highlight=False)
    return 0


def _shown(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _now() -> datetime:
    return datetime.now(UTC)
