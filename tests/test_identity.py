"""A name is display, never a credential: claiming it gives a secret, acting as it needs the secret, the store
keeps only a salted hash, and a signed pass (not the URL) keeps a browser signed in."""

import base64
import hashlib
import json
import sqlite3
import threading

import pytest

from sslcore.errors import ConfigError
from sslcore.limits import MIN_SECRET_CHARS
from sslcore.runs import RunStore
from sslcore.runs.owners import PASS_KEY_FILE, TAKEN, Identity, NameTaken, Owners, new_secret, oidc_identity
from sslcore.runs.store import MIGRATIONS
from sslcore.train import TrainConfig


def test_the_first_use_claims_a_name_and_only_its_secret_acts_as_it(tmp_path):
    owners = Owners(RunStore(tmp_path))
    ada, secret = owners.claim("Ada")
    assert ada == Identity("Ada", "Ada", "name") and len(secret) == 19
    with pytest.raises(NameTaken, match="That name is taken: enter its secret, or pick another name"):
        owners.claim("Ada", "another secret")
    for wrong in (None, "", "guess-guess", secret.upper(), secret + " "):
        with pytest.raises(NameTaken, match=TAKEN):
            owners.sign_in("Ada", wrong)
    assert owners.sign_in("Ada", secret) == ada
    assert owners.sign_in("ada", secret).owner == "Ada"  # one name whatever the case, spelled as claimed
    with pytest.raises(NameTaken):
        owners.claim("ADA")
    with pytest.raises(ConfigError, match="nobody has claimed the name 'Bob'"):
        owners.sign_in("Bob", "whatever")


def test_a_chosen_secret_has_a_minimum_and_a_made_one_is_returned_only_once(tmp_path):
    owners = Owners(RunStore(tmp_path))
    with pytest.raises(ConfigError, match=f"at least {MIN_SECRET_CHARS} characters"):
        owners.claim("Ada", "123")
    assert not owners.is_claimed("Ada")  # nothing was kept
    ada, made = owners.sign_in_or_claim("Ada", "correct horse")
    assert made is None and ada.owner == "Ada"  # she chose it: nothing to show
    assert owners.sign_in_or_claim("Ada", "correct horse") == (ada, None)
    with pytest.raises(NameTaken):
        owners.sign_in_or_claim("Ada", None)
    bob, made = owners.sign_in_or_claim("Bob", None)
    assert made and owners.sign_in("Bob", made) == bob
    with pytest.raises(ConfigError, match="':' is not allowed"):
        owners.claim("oidc:ada@example.org")  # nobody can type their way into another kind of owner


def test_the_store_keeps_a_salted_hash_never_the_secret(tmp_path):
    store = RunStore(tmp_path)
    owners = Owners(store)
    owners.claim("Ada", "same secret")
    owners.claim("Bob", "same secret")
    raw = (tmp_path / "runs.sqlite").read_bytes()
    assert b"same secret" not in raw
    rows = sqlite3.connect(tmp_path / "runs.sqlite").execute("SELECT name, salt, hash FROM owners").fetchall()
    assert {r[0] for r in rows} == {"Ada", "Bob"}
    (_, salt_a, hash_a), (_, salt_b, hash_b) = rows
    assert salt_a != salt_b and hash_a != hash_b  # per-name salt: one secret, two different hashes
    assert hash_a == hashlib.scrypt(b"same secret", salt=salt_a, n=2**14, r=8, p=1, dklen=32)


def test_two_people_claiming_one_name_at_once_get_one_owner(tmp_path):
    store = RunStore(tmp_path)
    outcomes = []

    def claim(secret):
        try:
            outcomes.append(Owners(store).claim("Ada", secret)[1])
        except NameTaken:
            outcomes.append(None)

    threads = [threading.Thread(target=claim, args=(f"secret-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [s for s in outcomes if s]
    assert len(winners) == 1 and outcomes.count(None) == 3
    assert Owners(store).sign_in("Ada", winners[0]).owner == "Ada"


def test_a_pass_proves_a_name_until_it_expires_and_cannot_be_forged(tmp_path):
    store = RunStore(tmp_path)
    owners = Owners(store)
    ada, _ = owners.claim("Ada", "ada's secret")
    token = owners.issue_pass(ada)
    assert owners.read_pass(token) == ada
    assert (tmp_path / PASS_KEY_FILE).stat().st_mode & 0o077 == 0  # the key is readable by the server's user only
    assert Owners(RunStore(tmp_path)).read_pass(token) == ada  # another process, same data folder
    payload, mac = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_body = base64.urlsafe_b64encode(json.dumps({**body, "o": "Bob"}).encode()).decode().rstrip("=")
    for bad in (None, "", "Ada", "me=Ada", f"{forged_body}.{mac}", f"{payload}.{mac[:-2]}xx", token + ".x"):
        assert owners.read_pass(bad) is None, bad
    assert owners.read_pass(owners.issue_pass(ada, max_age_s=-1)) is None  # expired
    other = RunStore(tmp_path / "elsewhere")
    Owners(other).claim("Ada", "ada's secret")
    assert Owners(other).read_pass(token) is None  # another data folder's key
    with pytest.raises(ConfigError):
        owners.issue_pass(Identity("Bob", "Bob", "name"))  # an unclaimed name gets no pass


def test_oidc_users_own_runs_under_a_prefix_nobody_can_type(tmp_path):
    ada = oidc_identity({"sub": "248289761001", "email": "ada@example.org", "name": "Ada Lovelace", "iss": "x"})
    assert ada == Identity("oidc:ada@example.org", "Ada Lovelace", "oidc")
    assert oidc_identity({"sub": "248289761001", "iss": "x"}).owner == "oidc:248289761001"
    odd = oidc_identity({"sub": "a/b" * 40, "iss": "https://issuer"})
    assert odd.owner.startswith("oidc:") and len(odd.owner) <= 60  # still a valid owner: hashed
    with pytest.raises(ConfigError, match="neither an e-mail nor a subject"):
        oidc_identity({"name": "nobody"})
    store = RunStore(tmp_path)
    run = store.submit(TrainConfig(task="rotation", dataset="shapes", n=64, batch_size=16, budget=1.0), owner=ada.owner)
    assert store.get(run).owner == "oidc:ada@example.org"
    from sslcore.runs import display_owner

    assert display_owner(ada.owner) == "ada@example.org"


def test_a_version_2_store_gains_claimed_names_and_keeps_its_runs(tmp_path):
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for version in (1, 2):
        for statement in MIGRATIONS[version]:
            db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute(
        "INSERT INTO runs (id, kind, task, config, status, created, owner) "
        "VALUES ('0123456789ab', 'task', 'rotation', '{}', 'queued', 1, 'Ada')"
    )
    db.commit()
    db.close()
    store = RunStore(tmp_path)
    assert store.get("0123456789ab").owner == "Ada"
    ada, secret = Owners(store).claim("Ada")  # whoever claims the name first gets its earlier runs
    assert store.cancel("0123456789ab", by=Owners(store).sign_in("Ada", secret).owner).status == "cancelled"


def test_made_secrets_are_easy_to_read_and_differ():
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50 and all(not set(s) & set("01ilo") for s in made)
