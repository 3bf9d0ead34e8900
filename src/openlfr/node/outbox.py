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
FORMAT_VERSION = 2  # 2: payloads sealed with a key derived from the API key

ItemKind = Literal["alert", "counters"]

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
"""


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

    def __init__(self, path: Path, secret: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = self._open()
        self._fernet = sealing_key(secret, self._salt())

    def _salt(self) -> bytes:
        row = self._conn.execute("SELECT value FROM outbox_meta WHERE key = 'salt'").fetchone()
        if row is not None:
            return bytes.fromhex(row[0])
        salt = os.urandom(16)
        self._conn.execute("INSERT INTO outbox_meta VALUES ('salt', ?)", (salt.hex(),))
        return salt

    def _open_payload(self, token: str) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
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
            elif row[0] != f"{FORMAT_NAME}:{FORMAT_VERSION}":
                raise OutboxError(f"{self.path}: outbox format {row[0]!r} is not one this "
                                  f"openlfr reads ({FORMAT_NAME}:{FORMAT_VERSION})")
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

    def put(self, platform: str, deployment_id: int, kind: ItemKind, uid: str,
            payload: dict[str, Any]) -> None:
        """Queue an item; it is on disk when this returns. Re-putting a uid is a no-op."""
        created = datetime.now(UTC).isoformat(timespec="milliseconds")
        sealed = self._fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode())
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO outbox_items (platform, deployment_id, kind, uid, payload,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (platform, deployment_id, kind, uid, sealed.decode(), created))

    def pending(self, platform: str, deployment_id: int, limit: int = 50) -> list[OutboxItem]:
        """The oldest waiting items for one deployment on one platform."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, platform, deployment_id, kind, uid, payload, created_at, attempts,"
                " last_error FROM outbox_items WHERE platform = ? AND deployment_id = ?"
                " ORDER BY id LIMIT ?", (platform, deployment_id, limit)).fetchall()
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

    def count(self, platform: str | None = None, deployment_id: int | None = None,
              kind: ItemKind | None = None) -> int:
        """Waiting items, all or for one platform/deployment/kind."""
        query, args = "SELECT count(*) FROM outbox_items WHERE 1 = 1", []
        for column, value in (("platform", platform), ("deployment_id", deployment_id),
                              ("kind", kind)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        with self._lock:
            return int(self._conn.execute(query, args).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def close_and_remove_if_empty(self) -> bool:
        """Close; delete the file when nothing waits in it (nothing left behind). True when
        the file was removed."""
        empty = self.count() == 0
        self.close()
        if empty:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return empty
