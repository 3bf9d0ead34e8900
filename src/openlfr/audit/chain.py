"""The append-only, hash-chained audit log.

Each event's hash covers its own contents and the previous event's hash, so editing,
deleting or reordering any past row breaks every link after it. ``verify_chain`` walks
the log and names the first row that does not check out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from openlfr.storage.models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64
HEAD_ROW_ID = 1


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, so the same content always hashes the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def event_hash(seq: int, occurred_at: str, actor: str, action: str, subject_type: str,
               subject_id: str, details: str, prev_hash: str) -> str:
    """SHA-256 over an event's fields and the previous link."""
    payload = canonical_json(
        [seq, occurred_at, actor, action, subject_type, subject_id, details, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


#: The head, locked (PostgreSQL) until the appending transaction ends.
_LOCK_HEAD = (select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ROW_ID)
              .with_for_update())
_INSERT_EVENT = insert(AuditEvent)
_MOVE_HEAD = update(AuditHead).where(AuditHead.id == HEAD_ROW_ID)


#: ``Session.info`` key: the head as this session's transaction holds it, locked. Later
#: appends in the transaction need not read it again (a group of node writes appends one
#: event per write); forgotten when the transaction ends or any part of it rolls back.
_HELD_HEAD = "openlfr_audit_head"


def _head(session: Session) -> tuple[int, str]:
    """The head (seq, hash), locked until the transaction ends."""
    held: tuple[int, str] | None = session.info.get(_HELD_HEAD)
    if held is None:
        seq, hash_ = session.connection().execute(_LOCK_HEAD).one()
        held = session.info[_HELD_HEAD] = (seq, hash_)
    return held


#: ``Session.info`` keys of ``defer_head_moves``: whether the transaction writes the head
#: once at commit, and whether it has appended since the head was last written.
_DEFER_MOVES = "openlfr_audit_head_deferred"
_HEAD_UNWRITTEN = "openlfr_audit_head_unwritten"


@listens_for(Session, "after_rollback")
def _forget_head_after_rollback(session: Session) -> None:
    # Also a SAVEPOINT's rollback: an event appended in it is gone, and a lock taken in it
    # may be too; the next append reads (and locks) the head again.
    if session.info.get(_DEFER_MOVES):
        return  # no append was inside it (refused), so the head held stays right
    session.info.pop(_HELD_HEAD, None)


@listens_for(Session, "before_commit")
def _write_deferred_head(session: Session) -> None:
    if session.info.pop(_HEAD_UNWRITTEN, False):
        seq, hash_ = session.info[_HELD_HEAD]
        session.connection().execute(_MOVE_HEAD, {"seq": seq, "hash": hash_})


@listens_for(Session, "after_transaction_end")
def _forget_head_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the database transaction ended: the lock went
        for key in (_HELD_HEAD, _DEFER_MOVES, _HEAD_UNWRITTEN):
            session.info.pop(key, None)


def lock_head(session: Session) -> None:
    """Take the head's lock now, in the caller's transaction (PostgreSQL; SQLite's writes
    are serialised anyway), for a transaction that will append after inserting rows another
    appender may also insert (a node's retried alert): the head first, then the rows, so
    two appenders never wait for each other."""
    _head(session)


def defer_head_moves(session: Session) -> None:
    """For the rest of the caller's transaction, take the head now and write where it has
    moved once, at commit, instead of after every append (a group of node writes appends
    one event per write: one statement each saved while every other appender waits). The
    transaction must not use SAVEPOINTs from here on: an append inside one is refused,
    since rolling it back would leave the unwritten head ahead of the events kept."""
    _head(session)
    session.info[_DEFER_MOVES] = True


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; it commits or rolls back with the
    change it records. The head row is locked (on PostgreSQL) so appends are serialised.

    Three plain statements (lock and read the head, insert the event, move the head)
    rather than the ORM's unit of work: every audited change pays for this, and the
    busiest (a node's alerts and counts) many times a second; a transaction that already
    holds the head skips the first, and one that deferred the head's moves
    (``defer_head_moves``) the last. The event returned holds what was inserted; it is not
    attached to the session."""
    deferred = session.info.get(_DEFER_MOVES, False)
    if deferred and session.in_nested_transaction():
        raise RuntimeError("an audit event appended inside a SAVEPOINT while the head's "
                           "moves are deferred (defer_head_moves)")
    session.flush()  # the change being recorded is written before the head is locked
    seq, prev_hash = _head(session)
    connection = session.connection()
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    event = AuditEvent(
        seq=seq + 1,
        occurred_at=moment.isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=canonical_json(dict(details or {})),
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event.seq, event.occurred_at, event.actor, event.action,
                            event.subject_type, event.subject_id, event.details,
                            event.prev_hash)
    connection.execute(_INSERT_EVENT, {
        "seq": event.seq, "occurred_at": event.occurred_at, "actor": event.actor,
        "action": event.action, "subject_type": event.subject_type,
        "subject_id": event.subject_id, "details": event.details,
        "prev_hash": event.prev_hash, "hash": event.hash})
    if deferred:
        session.info[_HEAD_UNWRITTEN] = True
    else:
        connection.execute(_MOVE_HEAD, {"seq": event.seq, "hash": event.hash})
    session.info[_HELD_HEAD] = (event.seq, event.hash)
    loaded = session.identity_map.get(identity_key(AuditHead, HEAD_ROW_ID))
    if loaded is not None:  # the session read the head before: it sees the new one
        set_committed_value(loaded, "seq", event.seq)
        set_committed_value(loaded, "hash", event.hash)
    return event


@dataclass(frozen=True)
class ChainVerification:
    """The result of checking the whole chain."""

    ok: bool
    events_checked: int
    first_broken_seq: int | None = None
    problem: str | None = None

    def describe(self) -> str:
        """One line for a person: all well, or where the chain breaks and how."""
        if self.ok:
            return f"audit chain intact: {self.events_checked} event(s) verified"
        return f"audit chain BROKEN at event #{self.first_broken_seq}: {self.problem}"


def row_problem(event: AuditEvent, previous_hash: str) -> str | None:
    """Why a stored event does not check out against the event before it (its hash
    ``previous_hash``) and against its own contents; None when it does."""
    if event.prev_hash != previous_hash:
        return ("its link to the previous event does not match; a row before it was "
                "altered, or this row's link was edited")
    if event_hash(event.seq, event.occurred_at, event.actor, event.action, event.subject_type,
                  event.subject_id, event.details, event.prev_hash) != event.hash:
        return (f"its contents do not match its hash; the row was edited after it was "
                f"written ({event.action} on {event.subject_type} {event.subject_id})")
    return None


def verify_chain(session: Session) -> ChainVerification:
    """Recompute every link in order; report the first event that does not match."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    for event in rows.yield_per(500):
        if event.seq != expected_seq:
            return ChainVerification(
                False, checked, expected_seq,
                f"event #{expected_seq} is missing (next stored event is #{event.seq}); "
                "rows were deleted")
        problem = row_problem(event, expected_prev)
        if problem:
            return ChainVerification(False, checked, event.seq, problem)
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    head = session.get(AuditHead, HEAD_ROW_ID)
    if head is None and checked:
        return ChainVerification(
            False, checked, checked, "the chain head row is missing: it was deleted, and "
            "with it what says how many events there should be")
    if head is not None and (head.seq != checked or head.hash != expected_prev):
        return ChainVerification(
            False, checked, checked + 1 if head.seq > checked else head.seq,
            f"the chain head records {head.seq} event(s) but {checked} are stored; the latest "
            "event(s) were deleted or the head was edited")
    return ChainVerification(True, checked)
