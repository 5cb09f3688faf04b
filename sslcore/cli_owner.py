"""``--owner NAME`` and its secret on the command line: the same names, secrets and rules as the app
(``sslcore.runs.owners``). The first use of a name claims it; acting as a claimed name needs its secret,
from ``--secret`` or ``$PRETEXT_LAB_SECRET``. The teacher's shell sets ``$PRETEXT_LAB_TEACHER_TOKEN`` instead.
"""

from __future__ import annotations

import argparse
import os
import sys

from sslcore.errors import PretextLabError
from sslcore.runs.owners import SECRET_ENV, NameTaken, Owners
from sslcore.runs.store import NotAllowed, RunStore


def add_owner(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--owner", help=f"{text} (default: nobody; runs without an owner may be changed by anyone)")
    p.add_argument(
        "--secret",
        default=os.environ.get(SECRET_ENV),
        help=f"the secret of --owner (default ${SECRET_ENV}); a name nobody has used yet is claimed with it "
        "(none given: one is made and printed once)",
    )


def acting_owner(args, data_dir=None) -> str | None:
    """The owner a command acts as: ``--owner`` proven by its secret, or claimed now if nobody has it (a made
    secret is printed once, to stderr). No ``--owner``: None. A wrong or missing secret is NotAllowed."""
    if not args.owner:
        return None
    try:
        who, made = Owners(RunStore(data_dir)).sign_in_or_claim(args.owner, args.secret)
    except NameTaken:
        raise NotAllowed(
            f"the name {args.owner!r} is taken: give its secret with --secret or ${SECRET_ENV}, or use another --owner"
        ) from None
    if made:
        print(
            f"claimed the name {who.owner!r}; its secret (shown only now): {made}\n"
            f"act as {who.owner} again with --secret or: export {SECRET_ENV}={made}",
            file=sys.stderr,
        )
    return who.owner


def reading_owner(args, data_dir=None) -> str | None:
    """Whose private designs a listing may show: ``--owner`` when its secret proves it, else nobody's (the
    published ones are always listed). Reading never claims a name."""
    if not getattr(args, "owner", None) or not getattr(args, "secret", None):
        return None
    try:
        return Owners(RunStore(data_dir)).sign_in(args.owner, args.secret).owner
    except PretextLabError:
        return None
