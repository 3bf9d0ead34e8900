"""Reading and verifying the audit log."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.audit import ChainVerification, verify_chain
from openlfr.audit.checkpoint import ChainBroken, Checkpoint, checkpoint_now, verify_against
from openlfr.governance.errors import Conflict
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.storage.models import AuditEvent


def list_events(p: Platform, actor: Actor, after_seq: int = 0,
                limit: int = 100) -> list[AuditEvent]:
    """Events in chain order, starting after ``after_seq``."""
    require(actor, Action.AUDIT_LOG_READ)
    with p.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.seq > after_seq)
                              .order_by(AuditEvent.seq).limit(limit)))


def verify(p: Platform, actor: Actor) -> ChainVerification:
    """Recompute the whole chain; names the first broken event."""
    require(actor, Action.AUDIT_LOG_READ)
    with p.sessions() as s:
        return verify_chain(s)


#: How long a whole-chain verification stands before a checkpoint is signed again on it
#: (seconds): the whole log is read at most this often, however often people ask.
VERIFY_EVERY_S = 300.0


def chain_state(p: Platform, s: Session) -> ChainVerification:
    """The whole chain's verification, at most ``VERIFY_EVERY_S`` old."""
    now = time.monotonic()
    if p.audit_verified is None or now - p.audit_verified[0] > VERIFY_EVERY_S:
        p.audit_verified = (now, verify_chain(s))
    return p.audit_verified[1]


def checkpoint(p: Platform, actor: Actor, seq: int | None = None) -> Checkpoint | None:
    """A signed checkpoint of the chain's head, or of event ``seq`` (to compare with one
    saved earlier): published, so anyone can keep it and later prove that the log still
    extends it. None when there is no such event yet. The platform signs only a log it
    can verify: the event signed must check out (``checkpoint_now``), and the whole chain
    did when last verified (``chain_state``); otherwise Conflict, naming where it breaks,
    so a log edited without rehashing is not vouched for by a fresh signature."""
    require(actor, Action.PUBLIC_READ)
    with p.sessions() as s:
        state = chain_state(p, s)
        if not state.ok:
            raise Conflict(f"no checkpoint is signed: {state.describe()}")
        try:
            return checkpoint_now(s, p.audit_signing_key, p.clock(), seq)
        except ChainBroken as exc:
            p.audit_verified = None  # verify the whole chain at the next request
            raise Conflict(str(exc)) from None


def verify_checkpoint(p: Platform, actor: Actor, saved: Checkpoint) -> ChainVerification:
    """Whether the log as stored now still extends a checkpoint saved earlier (signed by
    this platform's key), besides every row checking out."""
    require(actor, Action.AUDIT_LOG_READ)
    with p.sessions() as s:
        return verify_against(s, saved, p.audit_signing_key.public_key())
