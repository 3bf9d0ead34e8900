"""Reading and verifying the audit log."""

from __future__ import annotations

from sqlalchemy import select

from openlfr.audit import ChainVerification, verify_chain
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
