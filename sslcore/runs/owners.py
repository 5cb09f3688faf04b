"""Who a person is, proven: the one policy the pages and the command line share.

A typed name is what others see, never a credential. The first person to use a name claims it and gets
(or chooses) its secret; from then on acting as that name (queueing, cancelling, deleting, saving designs)
needs the secret. The run store keeps only a salted scrypt hash of it (``owners`` table), and a secret is
checked in constant time. After signing in, a browser may keep a *pass*: the owner and an expiry, signed
with HMAC-SHA256 under a key that never leaves the data folder, so a reload keeps who you are without
anything in the URL. Where the deployer configures OpenID Connect, the account the provider vouches for
is the owner (``oidc:<e-mail or subject>``) and no secret is involved. The teacher token stays the
override for everything (``sslcore.runs.store.is_teacher``).

Stdlib only: the app imports this before torch, and the dispatcher never needs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sslcore.errors import ConfigError, NameTaken
from sslcore.limits import MAX_SECRET_CHARS, MIN_SECRET_CHARS
from sslcore.runs.store import RunStore, check_owner, check_typed_name

SECRET_ENV = "PRETEXT_LAB_SECRET"  # the command line's secret for --owner, when --secret is not given
PASS_MAX_AGE_S = 14 * 24 * 3600  # a browser stays signed in for two weeks, then asks for the secret again
PASS_KEY_FILE = "identity.key"  # in the data folder: the key passes are signed with (made on first use)
# scrypt's cost: 16 MiB and ~50 ms per check on these CPUs, so guessing a secret through the app is slow
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
TAKEN = "That name is taken: enter its secret, or pick another name."


@dataclass(frozen=True)
class Identity:
    """Someone proven: ``owner`` is what the run store records, ``label`` what the pages call them."""

    owner: str
    label: str
    kind: str  # "name" (claimed with a secret) or "oidc" (signed in with the deployer's provider)


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, maxmem=64 * 2**20, **SCRYPT)


def new_secret() -> str:
    """A secret for a person who did not choose one: four groups of four letters and digits (~80 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: it is read off a screen and typed again
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def _check_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"a secret needs at least {MIN_SECRET_CHARS} characters (or leave it empty and one is made for you)"
        )
    if len(secret) > MAX_SECRET_CHARS:
        raise ConfigError(f"a secret may have at most {MAX_SECRET_CHARS} characters")
    return secret


class Owners:
    """Claimed names and their secrets in one run store, and the passes that keep a browser signed in."""

    def __init__(self, store: RunStore):
        self.store = store

    def is_claimed(self, name: str) -> bool:
        return self.store.name_record(check_typed_name(name)) is not None

    def claim(self, name: str, secret: str | None = None) -> tuple[Identity, str]:
        """Claim a free name with ``secret`` (None or empty: a new one is made). Returns who that makes you and
        the secret, which is never stored and so can be shown only now. A taken name raises NameTaken."""
        name = check_typed_name(name)
        secret = _check_secret(secret) if secret else new_secret()
        salt = os.urandom(16)
        if not self.store.add_name(name, salt, _hash(secret, salt)):
            raise NameTaken(TAKEN)
        return Identity(name, name, "name"), secret

    def sign_in(self, name: str, secret: str | None) -> Identity:
        """Prove a claimed name with its secret. An unclaimed name is a ConfigError (claim it first); a wrong or
        missing secret raises NameTaken, after the same hashing work as a right one."""
        name = check_typed_name(name)
        record = self.store.name_record(name)
        if record is None:
            raise ConfigError(f"nobody has claimed the name {name!r} yet")
        claimed, salt, digest = record
        given = str(secret or "")[:MAX_SECRET_CHARS]
        if not hmac.compare_digest(_hash(given, salt), digest) or not given:
            raise NameTaken(TAKEN)
        return Identity(claimed, claimed, "name")

    def sign_in_or_claim(self, name: str, secret: str | None) -> tuple[Identity, str | None]:
        """Sign in as a claimed name, or claim a free one (first use). The secret comes back only when it was
        made here (a free name and no secret given): the one moment it can be shown."""
        if self.store.name_record(check_typed_name(name)) is None:
            try:
                identity, made = self.claim(name, secret)
                return identity, None if secret else made
            except NameTaken:  # someone claimed it a moment ago: then the secret must be theirs
                pass
        return self.sign_in(name, secret), None

    # -- passes: a signed, expiring "this browser is <owner>" ------------------------------------------
    def _key(self) -> bytes:
        """The data folder's signing key, made (32 random bytes, readable by this user only) on first use."""
        path = Path(self.store.root) / PASS_KEY_FILE
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        key = os.urandom(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key

    def issue_pass(self, identity: Identity, max_age_s: float = PASS_MAX_AGE_S) -> str:
        """A pass for a name that proved itself: base64url JSON (owner, expiry, a mark of the name's current
        salt, so a name claimed anew voids the old passes) + '.' + its HMAC."""
        record = self.store.name_record(identity.owner)
        if identity.kind != "name" or record is None:
            raise ConfigError("only a claimed name gets a pass (other sign-ins keep their own)")
        body = {"o": record[0], "e": int(time.time() + max_age_s), "s": hashlib.sha256(record[1]).hexdigest()[:16]}
        payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._key(), payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def read_pass(self, token: str | None) -> Identity | None:
        """Who a pass proves, or None for anything else: missing, forged, expired, or for a name since claimed anew."""
        if not token or token.count(".") != 1 or len(token) > 1000:
            return None
        payload, mac = token.split(".")
        if not hmac.compare_digest(self._sign(payload), mac):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            owner, expires, salt_mark = str(body["o"]), float(body["e"]), str(body["s"])
        except (ValueError, KeyError, TypeError):
            return None
        record = self.store.name_record(owner)
        if expires < time.time() or record is None or hashlib.sha256(record[1]).hexdigest()[:16] != salt_mark:
            return None
        return Identity(record[0], record[0], "name")


def oidc_identity(claims: Mapping) -> Identity:
    """The owner of an OpenID Connect user (the claims of their ID token, as ``st.user`` shows them):
    ``oidc:<e-mail>`` when the provider gives one that fits an owner, else ``oidc:<subject>``, else a hash of
    issuer and subject; shown by name. The ``oidc:`` prefix cannot be typed (names have no ':')."""
    email, sub, issuer = (str(claims.get(k) or "") for k in ("email", "sub", "iss"))
    if not (email or sub):
        raise ConfigError("the sign-in provider gave neither an e-mail nor a subject: cannot tell who this is")
    owner = None
    for candidate in (email, sub):
        if candidate:
            try:
                owner = check_owner(f"oidc:{candidate}")
                break
            except ConfigError:
                continue
    owner = owner or "oidc:" + hashlib.sha256(f"{issuer}|{sub or email}".encode()).hexdigest()[:24]
    return Identity(owner, str(claims.get("name") or email or sub), "oidc")
