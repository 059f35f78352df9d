"""``synthwatch referral``: build, verify and key the signed referral packages of approved cases.

``add_verify_arguments`` and ``verify_package_command`` are also what
``synthwatch evidence verify-package`` is wired to.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from review.auth import authenticate
from review.referral import build_package
from review.referral_check import verify_package
from review.settings import signing_key_from_env
from review.signing import (
    fingerprint,
    generate_key_text,
    load_public_key,
    load_signing_key,
    public_key_pem,
    public_key_text,
)
from storage.clock import utcnow
from synthwatch.commands.common import (
    Subparsers,
    err,
    open_store,
    out,
    read_password,
    record_id,
)
from synthwatch.errors import UsageError


def register(sub: Subparsers) -> None:
    referral = sub.add_parser("referral", help="signed referral packages of approved cases")
    actions = referral.add_subparsers(dest="referral_command", required=True, metavar="ACTION")

    build = actions.add_parser(
        "build", help="write the signed package of an approved case (password asked)"
    )
    build.add_argument("case", type=record_id, help="case id")
    build.add_argument("--as", dest="user", required=True, help="an analyst or legal user")
    build.add_argument("--out", type=Path, required=True, metavar="FILE")
    build.set_defaults(handler=build_command)

    verify = actions.add_parser("verify", help="check a package; exit 1 on any change")
    add_verify_arguments(verify)
    verify.set_defaults(handler=verify_package_command)

    keygen = actions.add_parser("keygen", help="print a new signing key and its public key")
    keygen.set_defaults(handler=keygen_command)

    public = actions.add_parser(
        "public-key", help="print the public key of SYNTHWATCH_SIGNING_KEY, for recipients"
    )
    public.add_argument("--pem", action="store_true", help="as a PEM block (for openssl)")
    public.set_defaults(handler=public_key_command)


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of a package check: the package and the public key to trust."""
    parser.add_argument("package", type=Path, metavar="PACKAGE")
    parser.add_argument(
        "--public-key",
        metavar="KEY",
        help="the signer's public key, or a file holding it (base64 or PEM); "
        "default: the key of SYNTHWATCH_SIGNING_KEY",
    )


def trusted_key(given: str | None) -> Ed25519PublicKey:
    """Return the public key to check with: given (text or file), else the configured one."""
    if given:
        path = Path(given)
        text = path.read_text(encoding="utf-8") if path.is_file() else given
        return load_public_key(text, name="--public-key")
    own = signing_key_from_env()
    if own is None:
        raise UsageError("give --public-key KEY (or set SYNTHWATCH_SIGNING_KEY to check our own)")
    return load_signing_key(own).public_key()


def verify_package_command(args: argparse.Namespace) -> int:
    """Check a referral package; print each problem and exit 1, or say it is intact."""
    key = trusted_key(args.public_key)
    problems = verify_package(args.package, key)
    for problem in problems:
        out.print(f"FAILED {problem}", highlight=False)
    if problems:
        return 1
    err.print(f"{args.package}: intact, signed by the key {fingerprint(key)}", highlight=False)
    return 0


def build_command(args: argparse.Namespace) -> int:
    """Build the package of an approved case as a user confirmed by password."""
    text = signing_key_from_env()
    if text is None:
        raise UsageError("SYNTHWATCH_SIGNING_KEY is not set; see `synthwatch referral keygen`")
    key = load_signing_key(text)
    store = open_store()
    password = read_password(f"password of {args.user}: ")
    now = utcnow()
    with store.sessions() as session:
        user = authenticate(session, username=args.user, password=password, now=now)
    if user is None:
        raise UsageError(f"wrong user name or password for {args.user!r}, or the user is disabled")
    with store.sessions() as session:
        package = build_package(
            session,
            args.case,
            home=store.settings.home,
            signing_key=key,
            actor=session.merge(user),
            now=now,
        )
        args.out.write_bytes(package.data)
    out.print(
        f"{args.out}: referral package of case {args.case}, manifest SHA-256 "
        f"{package.manifest_sha256}",
        highlight=False,
    )
    return 0


def keygen_command(args: argparse.Namespace) -> int:
    """Print a new private key (for SYNTHWATCH_SIGNING_KEY) and its public key."""
    text = generate_key_text()
    public = load_signing_key(text).public_key()
    out.print(f"SYNTHWATCH_SIGNING_KEY={text}", highlight=False)
    err.print(
        f"public key: {public_key_text(public)} ({fingerprint(public)}); keep the private key "
        "secret, give the public key to recipients",
        highlight=False,
    )
    return 0


def public_key_command(args: argparse.Namespace) -> int:
    """Print the public key of the configured signing key."""
    text = signing_key_from_env()
    if text is None:
        raise UsageError("SYNTHWATCH_SIGNING_KEY is not set")
    public = load_signing_key(text).public_key()
    print(public_key_pem(public).strip() if args.pem else public_key_text(public))
    return 0
