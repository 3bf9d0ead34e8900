"""Use cases for the technology register and equity audits."""

from __future__ import annotations

from sqlalchemy import select

from openlfr.audit import append_event
from openlfr.services.common import get_or_404
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import EquityAuditIn, TechnologyIn
from openlfr.storage import models as m


def register_technology(p: Platform, actor: Actor, data: TechnologyIn) -> m.Technology:
    """Add an engine setup (algorithm, model version, vendor or project) to the register."""
    require(actor, Action.TECHNOLOGY_REGISTER)
    now = p.clock()
    with p.sessions.begin() as s:
        t = m.Technology(**data.model_dump(), created_at=now)
        s.add(t)
        s.flush()
        append_event(s, actor=actor.audit_name, action="technology.registered",
                     subject_type="technology", subject_id=t.id,
                     details={"algorithm": t.algorithm, "model_version": t.model_version},
                     now=now)
    return t


def update_technology(p: Platform, actor: Actor, technology_id: int,
                      data: TechnologyIn) -> m.Technology:
    """Correct a register entry. A new model version should be a new entry (its audits do
    not carry over), so this is for corrections, and is audited as such."""
    require(actor, Action.TECHNOLOGY_REGISTER)
    now = p.clock()
    with p.sessions.begin() as s:
        t = get_or_404(s, m.Technology, technology_id, "technology register entry")
        for key, value in data.model_dump().items():
            setattr(t, key, value)
        append_event(s, actor=actor.audit_name, action="technology.corrected",
                     subject_type="technology", subject_id=t.id,
                     details={"algorithm": t.algorithm, "model_version": t.model_version},
                     now=now)
    return t


def list_technologies(p: Platform) -> list[tuple[m.Technology, m.EquityAudit | None]]:
    """Each register entry with its latest equity audit (None when never audited); the
    register is public."""
    with p.sessions() as s:
        result = []
        for t in s.scalars(select(m.Technology).order_by(m.Technology.id)):
            latest = s.scalar(select(m.EquityAudit).where(m.EquityAudit.technology_id == t.id)
                              .order_by(m.EquityAudit.conducted_on.desc(),
                                        m.EquityAudit.id.desc()).limit(1))
            result.append((t, latest))
        return result


def record_equity_audit(p: Platform, actor: Actor, technology_id: int,
                        data: EquityAuditIn) -> m.EquityAudit:
    """Record an equity audit; its fair threshold becomes the threshold gate's floor."""
    require(actor, Action.EQUITY_AUDIT_RECORD)
    now = p.clock()
    with p.sessions.begin() as s:
        get_or_404(s, m.Technology, technology_id, "technology register entry")
        payload = data.model_dump()
        a = m.EquityAudit(technology_id=technology_id, recorded_by=actor.audit_name,
                          created_at=now, **payload)
        s.add(a)
        s.flush()
        append_event(s, actor=actor.audit_name, action="equity_audit.recorded",
                     subject_type="technology", subject_id=technology_id,
                     details={"audit_id": a.id, "fair_threshold": a.fair_threshold}, now=now)
    return a


def list_equity_audits(p: Platform, actor: Actor, technology_id: int) -> list[m.EquityAudit]:
    """Every equity audit of a register entry (staff)."""
    require(actor, Action.TECHNOLOGY_READ)
    with p.sessions() as s:
        get_or_404(s, m.Technology, technology_id, "technology register entry")
        return list(s.scalars(select(m.EquityAudit).where(
            m.EquityAudit.technology_id == technology_id).order_by(m.EquityAudit.conducted_on)))
