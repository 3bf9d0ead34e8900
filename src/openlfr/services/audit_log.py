"""Reading and verifying the audit log."""

from __future__ import annotations

from sqlalchemy import select

from openlfr.audit import ChainVerification, verify_chain
from openlfr.audit.checkpoint import Checkpoint, checkpoint_now, verify_against
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


def checkpoint(p: Platform, actor: Actor, seq: int | None = None) -> Checkpoint | None:
    """A signed checkpoint of the chain's head, or of event ``seq`` (to compare with one
    saved earlier): published, so anyone can keep it and later prove that the log still
    extends it. None when there is no such event yet."""
    require(actor, Action.PUBLIC_READ)
    with p.sessions() as s:
        return checkpoint_now(s, p.audit_signing_key, p.clock(), seq)


def verify_checkpoint(p: Platform, actor: Actor, saved: Checkpoint) -> ChainVerification:
    """Whether the log as stored now still extends a checkpoint saved earlier (signed by
    this platform's key), besides every row checking out."""
    require(actor, Action.AUDIT_LOG_READ)
    with p.sessions() as s:
        return verify_against(s, saved, p.audit_signing_key.public_key())
