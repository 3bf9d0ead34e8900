"""Signed checkpoints of the audit chain: anyone who saved one can later prove that the
log still extends it.

The hash chain alone proves only that the rows agree with each other: someone with write
access to the database can delete the latest rows and move the head, or edit a row and
recompute every later hash, and the chain still verifies. A checkpoint states "event
#seq had hash H at time T", signed with the platform's Ed25519 key (kept outside the
database). Once published and saved elsewhere, a rewrite or truncation of the log
before #seq no longer matches it, and the signature proves that the platform itself said
so.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.audit.chain import (
    GENESIS_HASH,
    HEAD_ROW_ID,
    ChainVerification,
    canonical_json,
    row_problem,
    verify_chain,
)
from openlfr.storage.models import AuditEvent, AuditHead

CHECKPOINT_FORMAT = "openlfr-audit-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is not one (or not signed by the key it should be)."""


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as published: its 32 raw bytes, base64."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise CheckpointError("the public key is not 32 bytes of base64 (as published in "
                              "a checkpoint's public_key)") from None


@dataclass(frozen=True)
class Checkpoint:
    """Event ``seq`` of the chain had hash ``head_hash`` at ``signed_at``, signed."""

    seq: int
    head_hash: str
    signed_at: str
    public_key: str
    signature: str
    format: str = CHECKPOINT_FORMAT
    version: int = CHECKPOINT_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """Read a saved checkpoint, or say why it is not one."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise CheckpointError("not a checkpoint: the file is not JSON") from None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"not a checkpoint: expected a JSON object with format "
                                  f"{CHECKPOINT_FORMAT!r}")
        fields = {"seq": int, "head_hash": str, "signed_at": str, "public_key": str,
                  "signature": str}
        for name, kind in fields.items():
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise CheckpointError(f"not a checkpoint: {name} is missing or not a "
                                      f"{kind.__name__}")
        return cls(**{name: data[name] for name in fields})


def _message(seq: int, head_hash: str, signed_at: str) -> bytes:
    """The bytes that are signed (canonical JSON, so any verifier can rebuild them)."""
    return canonical_json({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                           "seq": seq, "head_hash": head_hash,
                           "signed_at": signed_at}).encode("utf-8")


def sign(key: Ed25519PrivateKey, seq: int, head_hash: str, now: datetime) -> Checkpoint:
    signed_at = now.astimezone(UTC).isoformat(timespec="seconds")
    signature = key.sign(_message(seq, head_hash, signed_at))
    return Checkpoint(seq, head_hash, signed_at, public_key_text(key.public_key()),
                      base64.b64encode(signature).decode("ascii"))


class ChainBroken(CheckpointError):
    """The platform will not sign a checkpoint of a log it cannot verify."""


def _vouched(session: Session, seq: int) -> AuditEvent | None:
    """Event ``seq`` if its stored contents hash to its stored hash and it links to the
    event before it; ChainBroken (naming it) if not; None if there is no such event. A
    signature vouches for the hash it signs: signing one the row's own contents do not
    give would let an edit made without rehashing pass an outsider's comparison."""
    rows = {e.seq: e for e in session.scalars(select(AuditEvent).where(
        AuditEvent.seq.in_([seq - 1, seq])))}
    event = rows.get(seq)
    if event is None:
        return None
    before = GENESIS_HASH if seq == 1 else (rows[seq - 1].hash if seq - 1 in rows else "")
    problem = row_problem(event, before)
    if problem:
        raise ChainBroken(f"event #{seq} does not check out against its contents and the "
                          f"event before it ({problem}); no checkpoint is signed")
    return event


def checkpoint_now(session: Session, key: Ed25519PrivateKey, now: datetime,
                   seq: int | None = None) -> Checkpoint | None:
    """A signed checkpoint of the chain's head (or of event ``seq``, to compare with one
    saved earlier); None when there is no such event. Signed only for an event whose own
    contents and link check out (``_vouched``), and for the head only when the head row
    names that event's hash: ChainBroken otherwise (the whole chain is verified on a
    schedule too: ``services.audit_log``)."""
    if seq is None:
        head = session.get(AuditHead, HEAD_ROW_ID)
        if head is None or head.seq == 0:
            return None
        event = _vouched(session, head.seq)
        if event is None or event.hash != head.hash:
            raise ChainBroken(f"the chain head names event #{head.seq}, which is not stored "
                              "with that hash: the log was truncated or its head edited; no "
                              "checkpoint is signed")
        return sign(key, head.seq, head.hash, now)
    event = _vouched(session, seq)
    return None if event is None else sign(key, seq, event.hash, now)


def signature_ok(checkpoint: Checkpoint, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(base64.b64decode(checkpoint.signature, validate=True),
                   _message(checkpoint.seq, checkpoint.head_hash, checkpoint.signed_at))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_against(session: Session, checkpoint: Checkpoint,
                   key: Ed25519PublicKey) -> ChainVerification:
    """Whether the log as stored now extends ``checkpoint``: its signature is the
    platform's, event #seq is still there with the hash it had, and (as ever) every row
    checks out against its neighbours."""
    if public_key_text(key) != checkpoint.public_key or not signature_ok(checkpoint, key):
        return ChainVerification(False, 0, checkpoint.seq,
                                 "the checkpoint's signature does not verify with the "
                                 "platform's key: it was not issued by this platform, or it "
                                 "was edited")
    stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == checkpoint.seq))
    if stored is None:
        return ChainVerification(False, 0, checkpoint.seq,
                                 f"the checkpoint of {checkpoint.signed_at} covers event "
                                 f"#{checkpoint.seq}, which is no longer stored: the log was "
                                 "truncated")
    if stored != checkpoint.head_hash:
        return ChainVerification(False, 0, checkpoint.seq,
                                 f"event #{checkpoint.seq} no longer has the hash the "
                                 f"checkpoint of {checkpoint.signed_at} recorded: the log up "
                                 "to it was rewritten")
    result = verify_chain(session)
    if not result.ok:
        return result
    return ChainVerification(True, result.events_checked)
