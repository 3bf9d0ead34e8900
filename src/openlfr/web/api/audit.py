"""The audit log: read it and verify the chain (admin and oversight)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from openlfr.services import audit_log
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.web.api import AUTH_ERRORS
from openlfr.web.deps import PlatformDep, power
from openlfr.web.schemas import AuditEventOut, AuditVerificationOut

router = APIRouter(prefix="/audit", tags=["audit"], responses=AUTH_ERRORS)
AuditReader = Annotated[Actor, power(Action.AUDIT_LOG_READ)]


@router.get("/events", response_model=list[AuditEventOut])
def events(actor: AuditReader, platform: PlatformDep,
           after_seq: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditEventOut]:
    """Events in chain order, starting after ``after_seq``."""
    return [AuditEventOut.model_validate(e)
            for e in audit_log.list_events(platform, actor, after_seq, limit)]


@router.get("/verify", response_model=AuditVerificationOut)
def verify(actor: AuditReader, platform: PlatformDep) -> AuditVerificationOut:
    """Recompute the chain and name the first broken event, if any."""
    result = audit_log.verify(platform, actor)
    return AuditVerificationOut(ok=result.ok, events_checked=result.events_checked,
                                first_broken_seq=result.first_broken_seq,
                                problem=result.problem, message=result.describe())
