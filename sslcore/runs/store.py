"""The run store: SQLite (WAL) in the data directory. The app, the CLI and workers talk only through it.

A run row holds its owner, config, status, worker, heartbeat, latest progress, error and results;
progress events are a separate time series; artifacts live in ``<data dir>/runs/<run id>/``. Every write
is a short transaction, and "database is locked" is retried, so several processes can share the store.

Everyone may look at every run; only its owner, or the teacher (whoever presents the token set in
``$PRETEXT_LAB_TEACHER_TOKEN`` when the server starts), may cancel or delete it. The store itself checks
this, so no page or command can skip it. The teacher also pins the class reference comparison.

An owner is who ``sslcore.runs.owners`` says a person is (a claimed name proven by its secret, an OpenID
Connect account, or nobody): callers pass that verified owner, never a name someone typed. The store keeps
the claimed names' salted secret hashes in its ``owners`` table.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sslcore.errors import ConfigError, NotAllowed, PretextLabError, QueueFull, RunNotFound, StoreUnavailable
from sslcore.ids import is_id, new_id
from sslcore.kinds import BASELINE_OVERRIDES, FINETUNE, RANDOM_INIT, kind_of
from sslcore.paths import data_dir as default_data_dir
from sslcore.paths import storage_error
from sslcore.records import Progress, RunResults

if TYPE_CHECKING:  # the store never imports torch: it must start fast in the app and the dispatcher
    from sslcore.train import TrainConfig

SCHEMA_VERSION = 3
TEACHER_TOKEN_ENV = "PRETEXT_LAB_TEACHER_TOKEN"
OWNER_MAX_CHARS = 60
MAX_QUEUED_ENV = "PRETEXT_LAB_MAX_QUEUED"
DEFAULT_MAX_QUEUED = 20  # runs one person may have waiting: about four comparisons, so the class shares fairly
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = ("succeeded", "failed", "cancelled")
HEARTBEAT_TIMEOUT_S = 10.0  # a running run whose worker has not beaten for this long is declared dead
WORKER_DIED = "worker stopped unexpectedly"
BUSY_TIMEOUT_S = 5.0  # SQLite waits this long for a lock before it reports "database is locked"
LOCK_RETRIES = 6  # attempts, each with the busy timeout, plus back-off: ~33 s before a locked store is an error

MIGRATIONS = {
    1: [
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            group_id TEXT,
            kind TEXT NOT NULL,
            task TEXT NOT NULL,
            config TEXT NOT NULL,
            status TEXT NOT NULL,
            created REAL NOT NULL,
            started REAL,
            finished REAL,
            worker_id TEXT,
            heartbeat REAL,
            progress TEXT,
            error TEXT,
            results TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX runs_status ON runs(status, created)",
        "CREATE INDEX runs_group ON runs(group_id)",
        """CREATE TABLE events (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            time REAL NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        )""",
        """CREATE TABLE workers (
            id TEXT PRIMARY KEY,
            pid INTEGER,
            host TEXT,
            device TEXT,
            started REAL NOT NULL,
            heartbeat REAL NOT NULL,
            stopped REAL
        )""",
    ],
    # 2: who submitted each run (NULL for runs from before owners existed: anyone may change those)
    2: [
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "CREATE INDEX runs_owner ON runs(owner, created)",
    ],
    # 3: claimed names: a salted scrypt hash of each name's secret (never the secret), unique whatever the case
    3: [
        """CREATE TABLE owners (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            salt BLOB NOT NULL,
            hash BLOB NOT NULL,
            created REAL NOT NULL
        )""",
    ],
}


def lock_window_s() -> float:
    """How long a writer waits for a locked store before giving up (busy timeouts plus back-off)."""
    return LOCK_RETRIES * BUSY_TIMEOUT_S + sum(0.05 * 2**a for a in range(1, LOCK_RETRIES))


def max_queued() -> int:
    """The per-person cap on queued runs: ``$PRETEXT_LAB_MAX_QUEUED``, default DEFAULT_MAX_QUEUED."""
    try:
        return max(1, int(os.environ.get(MAX_QUEUED_ENV, DEFAULT_MAX_QUEUED)))
    except ValueError:
        return DEFAULT_MAX_QUEUED


def is_teacher(token: str | None) -> bool:
    """Whether ``token`` is the teacher token this server was started with (none set: nobody is teacher)."""
    expected = os.environ.get(TEACHER_TOKEN_ENV, "")
    return bool(expected and token) and hmac.compare_digest(expected.encode(), str(token).encode())


def may_change(run_owner: str | None, by: str | None, token: str | None = None) -> bool:
    """Only a run's owner or the teacher may cancel or delete it; a run without an owner, anyone."""
    return run_owner is None or (by is not None and by == run_owner) or is_teacher(token)


@dataclass
class Run:
    id: str
    group_id: str | None
    kind: str
    task: str
    config: dict
    status: str
    created: float
    started: float | None
    finished: float | None
    worker_id: str | None
    heartbeat: float | None
    progress: dict | None
    error: str | None
    results: dict | None
    cancel_requested: bool
    owner: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        values = dict(row)
        for key in ("config", "progress", "results"):
            values[key] = json.loads(values[key]) if values[key] else None
        values["cancel_requested"] = bool(values["cancel_requested"])
        return cls(**values)

    @property
    def done(self) -> bool:
        return self.status in FINISHED

    @property
    def progress_record(self) -> Progress | None:
        """The latest progress, typed (``progress`` is the JSON as stored)."""
        return None if self.progress is None else Progress.from_dict(self.progress)

    @property
    def results_record(self) -> RunResults | None:
        """The results, typed (``results`` is the JSON as stored)."""
        return None if self.results is None else RunResults.from_dict(self.results)


class RunStore:
    """Python API over the store. Cheap to create; each call opens a short-lived connection."""

    def __init__(self, data_dir: str | os.PathLike | None = None):
        self.root = default_data_dir(data_dir)
        self.path = self.root / "runs.sqlite"
        self.runs_dir = self.root / "runs"
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise storage_error(err, self.runs_dir) from None
        self._migrate()

    # -- plumbing -----------------------------------------------------------------------------------
    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection in WAL mode. Writers take the write lock up front (BEGIN IMMEDIATE); while another
        process holds it, SQLite's busy timeout waits, and we retry with back-off beyond that. SQLite's own
        errors (disk full, read-only, damaged file) become a StoreUnavailable that says what happened."""
        conn = self._connect(write)
        try:
            yield conn
            if write:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            self._rollback(conn)
            raise self._unavailable(err) from None
        except BaseException:
            self._rollback(conn)
            raise
        finally:
            conn.close()

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # closing the connection rolls back anyway

    def _connect(self, write: bool) -> sqlite3.Connection:
        attempt = 0
        while True:
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            except sqlite3.DatabaseError as err:
                raise self._unavailable(err) from None
            conn.row_factory = sqlite3.Row
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                if write:
                    conn.execute("BEGIN IMMEDIATE")
                return conn
            except sqlite3.DatabaseError as err:
                conn.close()
                attempt += 1
                if not _is_locked(err) or attempt >= LOCK_RETRIES:
                    raise self._unavailable(err) from None
                time.sleep(0.05 * 2**attempt)

    def _unavailable(self, err: sqlite3.Error) -> StoreUnavailable:
        """A SQLite error in words: what happened to the run store, and what to do."""
        text = str(err)
        if _is_locked(err):
            return StoreUnavailable(
                f"the run store {self.path} stayed locked by another process for over {lock_window_s():.2g} s "
                f"({text}); try again in a moment, and if it persists look for a stuck process using that file"
            )
        if "full" in text:
            return StoreUnavailable(
                f"no space left in the data folder {self.root}: the run store cannot record anything ({text}); "
                "free some space"
            )
        if "readonly" in text or "read-only" in text:
            return StoreUnavailable(
                f"the data folder {self.root} is read-only: the run store cannot record anything ({text}); "
                "point PRETEXT_LAB_DATA_DIR at a writable folder"
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return StoreUnavailable(
                f"the run store {self.path} is damaged ({text}); move it aside and a new, empty one is made "
                f"(the runs' files in {self.runs_dir} are not touched)"
            )
        if "unable to open" in text:
            return StoreUnavailable(
                f"cannot open the run store {self.path} ({text}); check that the data folder {self.root} "
                "is a writable folder"
            )
        return StoreUnavailable(f"the run store {self.path} is unavailable: {text}")

    def _migrate(self) -> None:
        with self._db(write=True) as db:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row["value"]) if row else 0
            if version > SCHEMA_VERSION:
                raise PretextLabError(
                    f"the run store at {self.path} has schema {version}, newer than this Pretext Lab ({SCHEMA_VERSION})"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def run_dir(self, run_id: str) -> Path:
        """The artifact folder of a run. Only well-formed ids become paths: nothing else reaches the disk."""
        if not is_id(run_id):
            raise RunNotFound(f"no run {run_id!r}")
        return self.runs_dir / run_id

    # -- submitting ---------------------------------------------------------------------------------
    def submit(self, config: TrainConfig, group_id: str | None = None, owner: str | None = None) -> str:
        """Queue one run (its config validated first) for ``owner`` and return its id."""
        config.validate()
        return self._queue([config], group_id, check_owner(owner))[0]

    def _queue(self, configs: list[TrainConfig], group_id: str | None, owner: str | None) -> list[str]:
        """Insert runs in one transaction, all or none: a named owner may have at most max_queued() waiting."""
        ids = [new_id() for _ in configs]
        with self._db(write=True) as db:
            if owner is not None:
                waiting = db.execute(
                    "SELECT COUNT(*) FROM runs WHERE owner = ? AND status = 'queued'", (owner,)
                ).fetchone()[0]
                if waiting + len(configs) > (cap := max_queued()):
                    raise QueueFull(
                        f"{display_owner(owner)} already has {waiting} runs waiting and the limit is {cap} per person "
                        f"(so one person cannot fill the class's queue): wait for some to start, or cancel some"
                    )
            for run_id, config in zip(ids, configs):
                db.execute(
                    "INSERT INTO runs (id, group_id, kind, task, config, status, created, owner) "
                    "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                    (
                        run_id,
                        group_id,
                        kind_of(config.task),
                        config.task,
                        json.dumps(config.to_dict()),
                        time.time(),
                        owner,
                    ),
                )
        return ids

    def submit_group(self, configs: list[TrainConfig], owner: str | None = None) -> tuple[str, list[str]]:
        """Queue runs for one comparison; a random-init baseline is added for every seed that has none, queued
        before the rest. The ids come back in the order of ``configs``, then the added baselines'."""
        owner = check_owner(owner)
        if not configs:
            raise ConfigError("a comparison needs at least one run")
        for config in configs:
            config.validate()
        have = {c.seed for c in configs if c.task == RANDOM_INIT}
        baselines = [
            type(configs[0]).from_dict({**next(c for c in configs if c.seed == seed).to_dict(), **BASELINE_OVERRIDES})
            for seed in dict.fromkeys(c.seed for c in configs)
            if seed not in have
        ]
        group_id = new_id()
        # the baselines are queued first: they take seconds, and every result is read against them
        ids = self._queue([*baselines, *configs], group_id, owner)
        return group_id, ids[len(baselines) :] + ids[: len(baselines)]

    # -- reading ------------------------------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        self.run_dir(run_id)
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r}")
        return Run.from_row(row)

    def list(
        self, status: str | None = None, group_id: str | None = None, limit: int = 200, owner: str | None = None
    ) -> list[Run]:
        query, args = "SELECT * FROM runs WHERE 1=1", []
        if owner:
            query += " AND owner = ?"
            args.append(owner)
        if status:
            query += " AND status = ?"
            args.append(status)
        if group_id:
            query += " AND group_id = ?"
            args.append(group_id)
        query += " ORDER BY created DESC, rowid DESC LIMIT ?"
        args.append(limit)
        with self._db() as db:
            return [Run.from_row(r) for r in db.execute(query, args).fetchall()]

    def latest_group(self, owner: str | None = None) -> str | None:
        """The newest comparison (of ``owner`` when given, else of anyone)."""
        query, args = "SELECT group_id FROM runs WHERE group_id IS NOT NULL", []
        if owner:
            query += " AND owner = ?"
            args.append(owner)
        with self._db() as db:
            row = db.execute(query + " ORDER BY created DESC, rowid DESC LIMIT 1", args).fetchone()
        return row["group_id"] if row else None

    def groups(self, limit: int = 50) -> list[dict]:
        """Comparisons, newest first: {"group_id", "owner", "created", "tasks", "runs"} each."""
        with self._db() as db:
            rows = db.execute(
                "SELECT group_id, MIN(owner) AS owner, MIN(created) AS created, COUNT(*) AS runs, "
                "GROUP_CONCAT(task, ',') AS tasks FROM runs WHERE group_id IS NOT NULL "
                "GROUP BY group_id ORDER BY MAX(created) DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [{**dict(r), "tasks": sorted(set(r["tasks"].split(",")))} for r in rows]

    def reference_group(self) -> str | None:
        """The comparison the teacher pinned as the class reference, if it still exists."""
        with self._db() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'class_reference'").fetchone()
            if row is None or not db.execute("SELECT 1 FROM runs WHERE group_id = ?", (row["value"],)).fetchone():
                return None
        return row["value"]

    def pin_reference(self, group_id: str | None, token: str | None) -> None:
        """Pin (or with None, unpin) the class reference comparison everyone sees first. Teacher only."""
        if not is_teacher(token):
            raise NotAllowed("only the teacher can pin the class reference comparison")
        with self._db(write=True) as db:
            if group_id is None:
                db.execute("DELETE FROM meta WHERE key = 'class_reference'")
                return
            if not db.execute("SELECT 1 FROM runs WHERE group_id = ?", (group_id,)).fetchone():
                raise RunNotFound(f"no comparison {group_id!r}")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('class_reference', ?)", (group_id,))

    def events_since(self, run_id: str, seq: int = 0) -> list[dict]:
        """Progress events with sequence number > seq, oldest first (each carries its 'seq')."""
        with self._db() as db:
            rows = db.execute(
                "SELECT seq, time, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq", (run_id, seq)
            ).fetchall()
        return [{**json.loads(r["data"]), "seq": r["seq"], "time": r["time"]} for r in rows]

    def progress_since(self, run_id: str, seq: int = 0) -> list[Progress]:
        """``events_since``, typed: what the live queue and Train's charts read."""
        return [Progress.from_dict(event) for event in self.events_since(run_id, seq)]

    def last_seq(self, run_id: str) -> int:
        """The sequence number of a run's newest event (0 before its first). One indexed row: a page that polls
        asks this first, and reads and redraws the events only when something new has arrived."""
        with self._db() as db:
            return db.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?", (run_id,)).fetchone()[0]

    def phase_started(self, run_ids: list[str], kind: str) -> dict[str, float]:
        """When each run's first event of ``kind`` was stored (e.g. "evaluating": when its evaluation began);
        runs without one are left out. One indexed read per run, cheap enough for a page that polls."""
        if not run_ids:
            return {}
        marks = ",".join("?" * len(run_ids))
        pattern = f'%"kind": {json.dumps(kind)}%'
        with self._db() as db:
            rows = db.execute(
                f"SELECT run_id, MIN(time) FROM events WHERE run_id IN ({marks}) AND data LIKE ? GROUP BY run_id",
                [*run_ids, pattern],
            ).fetchall()
        return {row[0]: row[1] for row in rows}

    # -- changing -----------------------------------------------------------------------------------
    def _check_may_change(self, run: Run, by: str | None, token: str | None, verb: str) -> None:
        if not may_change(run.owner, by, token):
            raise NotAllowed(
                f"run {run.id} belongs to {display_owner(run.owner)}: only they or the teacher can {verb} it"
            )

    def cancel(self, run_id: str, by: str | None = None, token: str | None = None) -> Run:
        """Queued runs are cancelled at once; running ones stop within one training step.

        ``by`` is who asks (an owner name), ``token`` a teacher token: see ``may_change``."""
        run = self.get(run_id)
        self._check_may_change(run, by, token, "cancel")
        with self._db(write=True) as db:
            db.execute(
                "UPDATE runs SET status = 'cancelled', finished = ? WHERE id = ? AND status = 'queued'",
                (time.time(), run_id),
            )
            db.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (run_id,))
        return self.get(run.id)

    def delete(self, run_id: str, by: str | None = None, token: str | None = None) -> None:
        """Forget a run and remove its files. A running run must be cancelled (and stop) first."""
        run = self.get(run_id)
        self._check_may_change(run, by, token, "delete")
        if run.status == "running":
            raise ConfigError(f"run {run_id} is still running: cancel it first")
        with self._db(write=True) as db:
            db.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # -- claimed names (sslcore.runs.owners decides; the store only keeps the rows) -------------------
    def add_name(self, name: str, salt: bytes, digest: bytes) -> bool:
        """Record a claimed name with its secret's salt and hash; False (and nothing written) if it was taken,
        whatever the case of its letters. One statement, so two people claiming one name cannot both win."""
        with self._db(write=True) as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO owners (name, salt, hash, created) VALUES (?, ?, ?, ?)",
                (name, salt, digest, time.time()),
            )
            return cur.rowcount == 1

    def name_record(self, name: str) -> tuple[str, bytes, bytes] | None:
        """(the name as claimed, salt, hash) of a claimed name, matched whatever the case; None if unclaimed."""
        with self._db() as db:
            row = db.execute("SELECT name, salt, hash FROM owners WHERE name = ?", (name,)).fetchone()
        return (row["name"], bytes(row["salt"]), bytes(row["hash"])) if row else None

    # -- used by workers ----------------------------------------------------------------------------
    def claim(self, worker_id: str) -> Run | None:
        """Atomically take the next queued run in fair order (one writer at a time: none is claimed twice)."""
        now = time.time()
        with self._db(write=True) as db:
            order = _fair_order(db, first_only=True)
            if not order:
                return None
            db.execute(
                "UPDATE runs SET status = 'running', worker_id = ?, started = ?, heartbeat = ? WHERE id = ?",
                (worker_id, now, now, order[0]),
            )
        return self.get(order[0])

    def queue_order(self) -> list[str]:
        """Ids of the queued runs in the order they will start (if nobody else queues meanwhile)."""
        with self._db() as db:
            return _fair_order(db)

    def queue_position(self, owner: str | None) -> tuple[int, int] | None:
        """(1-based place of ``owner``'s next queued run, runs queued in all), or None if they have none queued."""
        with self._db() as db:
            order = _fair_order(db)
            mine = {r["id"] for r in db.execute("SELECT id FROM runs WHERE status = 'queued' AND owner IS ?", (owner,))}
        return next(((i + 1, len(order)) for i, run_id in enumerate(order) if run_id in mine), None)

    def cancel_requests(self, run_ids: list[str]) -> set[str]:
        """Which of these runs should stop: a cancel was asked for, or the run was deleted."""
        with self._db() as db:
            marks = ",".join("?" * len(run_ids))
            keep = {
                r[0] for r in db.execute(f"SELECT id FROM runs WHERE id IN ({marks}) AND cancel_requested = 0", run_ids)
            }
        return set(run_ids) - keep

    def cancel_requested(self, run_id: str) -> bool:
        with self._db() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row is None or bool(row["cancel_requested"])  # a deleted run stops too

    def add_event(self, run_id: str, event: dict, progress: bool = False) -> None:
        with self._db(write=True) as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?", (run_id,)).fetchone()[0]
            db.execute(
                "INSERT INTO events (run_id, seq, time, data) VALUES (?, ?, ?, ?)",
                (run_id, seq, time.time(), json.dumps(event)),
            )
            if progress:
                db.execute("UPDATE runs SET progress = ? WHERE id = ?", (json.dumps(event), run_id))

    def finish(self, run_id: str, status: str, results: dict | None = None, error: str | None = None) -> None:
        if status not in FINISHED:
            raise ValueError(status)
        with self._db(write=True) as db:
            db.execute(
                "UPDATE runs SET status = ?, results = ?, error = ?, finished = ? WHERE id = ? AND status = 'running'",
                (status, json.dumps(results, default=float) if results else None, error, time.time(), run_id),
            )

    def beat(self, worker_id: str, run_ids: list[str], device: str | None = None) -> None:
        """A worker is alive, with these runs; ``device`` updates where its runs go (a cluster changes)."""
        now = time.time()
        with self._db(write=True) as db:
            db.execute(
                "UPDATE workers SET heartbeat = ?, device = COALESCE(?, device) WHERE id = ?", (now, device, worker_id)
            )
            db.executemany(
                "UPDATE runs SET heartbeat = ? WHERE id = ? AND status = 'running'", [(now, r) for r in run_ids]
            )

    def register_worker(self, worker_id: str, pid: int, device: str) -> None:
        now = time.time()
        with self._db(write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO workers (id, pid, host, device, started, heartbeat) VALUES (?, ?, ?, ?, ?, ?)",
                (worker_id, pid, os.uname().nodename, device, now, now),
            )

    def worker_stopped(self, worker_id: str) -> None:
        with self._db(write=True) as db:
            db.execute("UPDATE workers SET stopped = ? WHERE id = ?", (time.time(), worker_id))

    def live_workers(self, timeout: float = HEARTBEAT_TIMEOUT_S) -> list[dict]:
        with self._db() as db:
            rows = db.execute(
                "SELECT * FROM workers WHERE stopped IS NULL AND heartbeat > ?", (time.time() - timeout,)
            ).fetchall()
        return [dict(r) for r in rows]

    def reap_stale(self, timeout: float = HEARTBEAT_TIMEOUT_S) -> list[str]:
        """Mark running runs whose worker is gone as failed, so the queue goes on.

        Gone means: no heartbeat for ``timeout`` seconds, or (at once) its process no longer exists on
        this machine.
        """
        cutoff, host = time.time() - timeout, os.uname().nodename
        with self._db(write=True) as db:
            rows = db.execute(
                "SELECT r.id, r.heartbeat, r.started, w.pid, w.host FROM runs r "
                "LEFT JOIN workers w ON w.id = r.worker_id WHERE r.status = 'running'"
            ).fetchall()
            ids = [
                r["id"]
                for r in rows
                if (r["heartbeat"] or r["started"]) < cutoff or (r["host"] == host and not _alive(r["pid"]))
            ]
            db.executemany(
                "UPDATE runs SET status = 'failed', error = ?, finished = ? WHERE id = ? AND status = 'running'",
                [(WORKER_DIED, time.time(), i) for i in ids],
            )
        return ids


_OWNER = re.compile(r"^[\w .@:+-]+$")


def check_owner(owner: str | None) -> str | None:
    """An owner name as stored: trimmed, at most OWNER_MAX_CHARS letters, digits, spaces and ``.@:+-_``."""
    if owner is None:
        return None
    owner = str(owner).strip()
    if not owner or len(owner) > OWNER_MAX_CHARS or not _OWNER.match(owner):
        raise ConfigError(
            f"owner {owner[:OWNER_MAX_CHARS]!r} is not a usable name: use 1-{OWNER_MAX_CHARS} letters, digits, "
            "spaces or . @ + - _"
        )
    return owner


def check_typed_name(raw: str) -> str:
    """A name a person typed on a page: a valid owner that cannot pass for a browser session (no ':')."""
    if ":" in raw:
        raise ConfigError(f"owner {raw!r} is not a usable name: ':' is not allowed")
    return check_owner(raw)


def display_owner(owner: str | None) -> str:
    """An owner in words: a name as is, an OpenID Connect account by its e-mail (or subject), a browser
    session without its secret part."""
    if owner is None:
        return "nobody (made before runs had owners)"
    if owner.startswith("session:"):
        return f"an unnamed browser session ({owner[8:12]}…)"
    if owner.startswith("oidc:"):
        return owner[5:]
    return owner


def _fair_order(db: sqlite3.Connection, first_only: bool = False) -> list[str]:
    """Queued run ids in claim order: round-robin over owners, oldest first within each owner.

    The owner served longest ago (or never) goes first, so a student who queued twenty runs gets one
    run per round like everyone else. No state is kept: the runs' own start times are the rotation.
    Runs without an owner (the command line) count as one owner. A fine-tune waits until the run it starts
    from has ended (however many slots the executor has), then takes its turn; a source that failed or was
    deleted does not hold it (it starts and fails with a message naming the source).
    """
    waiting: dict[str, list[str]] = {}
    blocked: list[str] = []  # fine-tunes whose source run has not finished: they wait, whatever their turn
    unfinished = {row[0] for row in db.execute("SELECT id FROM runs WHERE status IN ('queued', 'running')")}
    rows = db.execute(
        "SELECT id, COALESCE(owner, ''), task, config FROM runs WHERE status = 'queued' ORDER BY created, rowid"
    )
    for run_id, owner, task, config in rows:
        if task == FINETUNE and _source_run(config) in unfinished:  # only fine-tunes have a source to parse
            blocked.append(run_id)
        else:
            waiting.setdefault(owner, []).append(run_id)
    if not waiting:
        return [] if first_only else blocked
    served = dict(
        db.execute(
            "SELECT COALESCE(owner, ''), MAX(started) FROM runs WHERE started IS NOT NULL GROUP BY COALESCE(owner, '')"
        ).fetchall()
    )
    owners = sorted(waiting, key=lambda who: (who in served, served.get(who, 0.0)))  # stable: first queued first
    if first_only:
        return waiting[owners[0]][:1]
    rounds = max(len(ids) for ids in waiting.values())
    return [waiting[who][i] for i in range(rounds) for who in owners if i < len(waiting[who])] + blocked


def _source_run(config: str) -> str | None:
    """The run a fine-tune starts from (its config's ``init_from``), or None."""
    try:
        source = json.loads(config).get("init_from")
    except (ValueError, AttributeError):
        return None
    return source if isinstance(source, str) else None


def _is_locked(err: sqlite3.Error) -> bool:
    return "locked" in str(err) or "busy" in str(err)


def _alive(pid: int | None) -> bool:
    """Whether a process exists here (unknown pids count as alive: the heartbeat decides then)."""
    if not pid:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
