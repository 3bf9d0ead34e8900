"""The node's outbox: alerts and counter batches wait here until the platform has
acknowledged them, so that killing the node or losing the platform loses nothing.

One SQLite file (stdlib ``sqlite3``). Every ``put`` is committed (synchronous=FULL) before
the caller goes on, so an item survives a crash the moment it is queued. An item is
deleted only when the platform acknowledged it; deleted rows are overwritten
(``secure_delete``), so a probe crop that was delivered does not linger in the file.
Payloads are sealed (Fernet: AES + HMAC) with a key derived from the node's API key and a
random salt kept in the file, so a copied outbox does not give up its probe crops without
the key; the file is also private to its user.
Only alerts (a face that matched the watchlist) and counts are ever put here: a face that
matches nobody never reaches the outbox.

An item the platform refuses for good (a 4xx about the item itself: 400, 409, 413, 422) is
not deleted: it is *quarantined*, kept with the status code and the platform's reason, so
that the items behind it go on and nothing vanishes without a trace; ``openlfr node outbox``
lists such items, sends them again or discards them. The file also remembers each
deployment it holds items for (reference, end, late-delivery deadline), so that a run for
one deployment can say what waits for another.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

OUTBOX_FILE_NAME = "outbox.sqlite3"
FORMAT_NAME = "openlfr-node-outbox"
#: 2: payloads sealed with a key derived from the API key; 3: quarantined items and the
#: deployments' deadlines (a version 2 file is upgraded in place when opened).
FORMAT_VERSION = 3
_UPGRADABLE = {f"{FORMAT_NAME}:2"}

ItemKind = Literal["alert", "counters"]
PENDING, QUARANTINED = "pending", "quarantined"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    deployment_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('alert', 'counters')),
    uid TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS outbox_deployments (
    platform TEXT NOT NULL,
    deployment_id INTEGER NOT NULL,
    reference TEXT,
    end_at TEXT,
    late_delivery_until TEXT,
    PRIMARY KEY (platform, deployment_id)
);
"""

#: Columns format 3 added to ``outbox_items`` (added to a version 2 file when opened).
_QUARANTINE_COLUMNS = (
    ("state", "TEXT NOT NULL DEFAULT 'pending'"),
    ("refused_status", "INTEGER"),
    ("refused_reason", "TEXT"),
    ("refused_at", "TEXT"),
)


class OutboxError(Exception):
    """The outbox file cannot be used; the message says which file and what to do."""


@dataclass(frozen=True)
class OutboxItem:
    id: int
    platform: str
    deployment_id: int
    kind: ItemKind
    uid: str
    payload: dict[str, Any]
    created_at: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class QuarantinedItem:
    """An item the platform refused for good, kept aside (its payload stays sealed)."""

    id: int
    platform: str
    deployment_id: int
    kind: ItemKind
    uid: str
    created_at: str
    status_code: int
    reason: str
    refused_at: str


@dataclass(frozen=True)
class HeldItems:
    """What the outbox holds for one deployment on one platform, and what the file knows
    of that deployment (None: never recorded, e.g. items queued by an older openlfr)."""

    platform: str
    deployment_id: int
    pending: int
    quarantined: int
    reference: str | None
    end_at: str | None
    late_delivery_until: str | None
    """Until when the platform takes items recorded before the end (known once the
    deployment has ended and a run asked the platform)."""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sealing_key(secret: str, salt: bytes) -> Fernet:
    """The outbox's key: HKDF-SHA256 of the API key (already high-entropy, so no slow KDF
    is needed) with the file's salt."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=b"openlfr node outbox payloads")
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret.encode())))


class Outbox:
    """Items waiting for the platform's acknowledgement, sealed with a key derived from
    ``secret`` (the node's API key). Thread-safe: the pipeline puts, the sender takes and
    acknowledges."""

    def __init__(self, path: Path, secret: str | None) -> None:
        """``secret`` None: to list, requeue or discard items, never to open or put one."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = self._open()
        salt = self._salt()
        self._fernet = None if secret is None else sealing_key(secret, salt)

    def _sealer(self) -> Fernet:
        if self._fernet is None:
            raise OutboxError(f"{self.path}: opened without the API key; its items can be "
                              "listed but not opened or added")
        return self._fernet

    def _salt(self) -> bytes:
        row = self._conn.execute("SELECT value FROM outbox_meta WHERE key = 'salt'").fetchone()
        if row is not None:
            return bytes.fromhex(row[0])
        salt = os.urandom(16)
        self._conn.execute("INSERT INTO outbox_meta VALUES ('salt', ?)", (salt.hex(),))
        return salt

    def _open_payload(self, token: str) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = json.loads(self._sealer().decrypt(token.encode()))
        except InvalidToken:
            raise OutboxError(
                f"{self.path}: items waiting here were sealed with another API key; run with "
                "the key they were queued under, or move the file aside (its items are then "
                "not sent)") from None
        return payload

    @classmethod
    def in_folder(cls, folder: Path, secret: str) -> Outbox:
        """The outbox file in ``folder`` (created, private to this user, if missing)."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise OutboxError(f"{folder}: cannot create the outbox folder ({exc.strerror})"
                              ) from exc
        return cls(folder / OUTBOX_FILE_NAME, secret)

    def _open(self) -> sqlite3.Connection:
        existed = self.path.exists()
        try:
            if not existed:  # created private: it can hold probe crops until delivered
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except OSError as exc:
            raise OutboxError(f"{self.path}: cannot open the outbox ({exc.strerror})") from exc
        try:
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "outbox_meta" not in tables:  # another program's database
                raise OutboxError(f"{self.path}: not an openlfr node outbox; choose another "
                                  "folder with --outbox")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM outbox_meta WHERE key = 'format'").fetchone()
            if row is None:
                conn.execute("INSERT INTO outbox_meta VALUES ('format', ?)",
                             (f"{FORMAT_NAME}:{FORMAT_VERSION}",))
            elif row[0] in _UPGRADABLE:
                pass  # the columns are added below, and the format noted, in one transaction
            elif row[0] != f"{FORMAT_NAME}:{FORMAT_VERSION}":
                raise OutboxError(f"{self.path}: outbox format {row[0]!r} is not one this "
                                  f"openlfr reads ({FORMAT_NAME}:{FORMAT_VERSION})")
            _upgrade(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise OutboxError(
                f"{self.path}: the outbox file is damaged or not an openlfr outbox ({exc}); "
                "move it aside to start with an empty one (items still in it are not sent)"
            ) from exc
        except OutboxError:
            conn.close()
            raise
        return conn

    def remember_deployment(self, platform: str, deployment_id: int, reference: str,
                            end_at: str | None, late_delivery_until: str | None) -> None:
        """Note what the platform said of a deployment (its reference, end and late-delivery
        deadline), so that a run for another deployment can report its items with them."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO outbox_deployments (platform, deployment_id, reference, end_at,"
                " late_delivery_until) VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform,"
                " deployment_id) DO UPDATE SET reference = excluded.reference,"
                " end_at = excluded.end_at,"
                " late_delivery_until = coalesce(excluded.late_delivery_until,"
                " outbox_deployments.late_delivery_until)",
                (platform, deployment_id, reference, end_at, late_delivery_until))

    def put(self, platform: str, deployment_id: int, kind: ItemKind, uid: str,
            payload: dict[str, Any]) -> None:
        """Queue an item; it is on disk when this returns. Re-putting a uid is a no-op."""
        created = datetime.now(UTC).isoformat(timespec="milliseconds")
        sealed = self._sealer().encrypt(json.dumps(payload, separators=(",", ":")).encode())
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO outbox_items (platform, deployment_id, kind, uid, payload,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (platform, deployment_id, kind, uid, sealed.decode(), created))

    def pending(self, platform: str, deployment_id: int, limit: int = 50) -> list[OutboxItem]:
        """The oldest items waiting to be sent for one deployment on one platform
        (quarantined items are not among them)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, platform, deployment_id, kind, uid, payload, created_at, attempts,"
                " last_error FROM outbox_items WHERE platform = ? AND deployment_id = ?"
                " AND state = 'pending' ORDER BY id LIMIT ?",
                (platform, deployment_id, limit)).fetchall()
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], self._open_payload(r[5]), r[6], r[7],
                           r[8]) for r in rows]

    def ack(self, item_id: int) -> None:
        """The platform has the item: delete it (and overwrite its bytes)."""
        with self._lock:
            self._conn.execute("DELETE FROM outbox_items WHERE id = ?", (item_id,))

    def failed(self, item_id: int, error: str) -> None:
        """Record a failed attempt; the item stays."""
        with self._lock:
            self._conn.execute(
                "UPDATE outbox_items SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:500], item_id))

    def quarantine(self, item_id: int, status_code: int, reason: str) -> None:
        """The platform refused the item for good: set it aside, with the status code and
        the platform's reason, so that the items behind it go on. It stays on disk."""
        refused_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            self._conn.execute(
                "UPDATE outbox_items SET state = 'quarantined', attempts = attempts + 1,"
                " refused_status = ?, refused_reason = ?, refused_at = ? WHERE id = ?",
                (status_code, reason[:1000], refused_at, item_id))

    def quarantined(self, platform: str | None = None,
                    deployment_id: int | None = None) -> list[QuarantinedItem]:
        """Items set aside (all, or for one platform/deployment), oldest first; their
        payloads are not opened (any key lists them)."""
        query = ("SELECT id, platform, deployment_id, kind, uid, created_at, refused_status,"
                 " refused_reason, refused_at FROM outbox_items WHERE state = 'quarantined'")
        args: list[Any] = []
        for column, value in (("platform", platform), ("deployment_id", deployment_id)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY id", args).fetchall()
        return [QuarantinedItem(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6] or 0),
                                r[7] or "", r[8] or "") for r in rows]

    def requeue(self, platform: str | None = None, deployment_id: int | None = None,
                status_code: int | None = None) -> int:
        """Put quarantined items (all, or those of one platform/deployment, or refused with
        one status code) back in line to be sent; returns how many."""
        query = ("UPDATE outbox_items SET state = 'pending', last_error = 'refused (' ||"
                 " refused_status || '): ' || refused_reason WHERE state = 'quarantined'")
        args: list[Any] = []
        for column, value in (("platform", platform), ("deployment_id", deployment_id),
                              ("refused_status", status_code)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        with self._lock:
            return int(self._conn.execute(query, args).rowcount)

    def discard_quarantined(self, platform: str | None = None,
                            deployment_id: int | None = None) -> int:
        """Delete quarantined items (all, or those of one platform/deployment), their bytes
        overwritten; a person's decision after reading why they were refused. Returns how
        many."""
        query, args = "DELETE FROM outbox_items WHERE state = 'quarantined'", []
        for column, value in (("platform", platform), ("deployment_id", deployment_id)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        with self._lock:
            return int(self._conn.execute(query, args).rowcount)

    def held(self) -> list[HeldItems]:
        """What the file holds, per platform and deployment (pending and quarantined), with
        what it knows of each deployment; the deployment's own run sends it."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT i.platform, i.deployment_id,"
                " sum(CASE WHEN i.state = 'pending' THEN 1 ELSE 0 END),"
                " sum(CASE WHEN i.state = 'quarantined' THEN 1 ELSE 0 END),"
                " d.reference, d.end_at, d.late_delivery_until"
                " FROM outbox_items i LEFT JOIN outbox_deployments d"
                " ON d.platform = i.platform AND d.deployment_id = i.deployment_id"
                " GROUP BY i.platform, i.deployment_id ORDER BY min(i.id)").fetchall()
        return [HeldItems(r[0], r[1], int(r[2]), int(r[3]), r[4], r[5], r[6]) for r in rows]

    def count(self, platform: str | None = None, deployment_id: int | None = None,
              kind: ItemKind | None = None, state: str | None = PENDING) -> int:
        """Items waiting to be sent (``state`` "pending", the default), quarantined, or
        all (None); all or for one platform/deployment/kind."""
        query, args = "SELECT count(*) FROM outbox_items WHERE 1 = 1", []
        for column, value in (("platform", platform), ("deployment_id", deployment_id),
                              ("kind", kind), ("state", state)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        with self._lock:
            return int(self._conn.execute(query, args).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def close_and_remove_if_empty(self) -> bool:
        """Close; delete the file when nothing is in it, to send or quarantined (nothing
        left behind). True when the file was removed."""
        empty = self.count(state=None) == 0
        self.close()
        if empty:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return empty


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring a version 2 file to this version (add the quarantine's columns), in one
    transaction; nothing to do for a file already at it."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(outbox_items)")}
    missing = [(name, decl) for name, decl in _QUARANTINE_COLUMNS if name not in columns]
    conn.execute("BEGIN IMMEDIATE")
    try:
        for name, decl in missing:
            conn.execute(f"ALTER TABLE outbox_items ADD COLUMN {name} {decl}")
        conn.execute("CREATE INDEX IF NOT EXISTS outbox_items_in_line ON outbox_items"
                     " (platform, deployment_id, state, id)")
        conn.execute("UPDATE outbox_meta SET value = ? WHERE key = 'format'",
                     (f"{FORMAT_NAME}:{FORMAT_VERSION}",))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
