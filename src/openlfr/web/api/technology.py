"""The technology register and equity audits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from openlfr.services import technology
from openlfr.services.atrs import RegisterEntryIn
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import EquityAuditIn
from openlfr.web.api import AUTH_ERRORS, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import (
    EquityAuditOut,
    TechnologyOut,
    TechnologyRegisterOut,
    TechnologyVersionOut,
)

router = APIRouter(prefix="/technology", tags=["technology"],
                   responses={**AUTH_ERRORS, **NOT_FOUND})
Reader = Annotated[Actor, power(Action.TECHNOLOGY_READ)]
Registrar = Annotated[Actor, power(Action.TECHNOLOGY_REGISTER)]
Auditor = Annotated[Actor, power(Action.EQUITY_AUDIT_RECORD)]


def entry_out(entry: technology.RegisterEntry) -> TechnologyRegisterOut:
    a = entry.latest_audit
    return TechnologyRegisterOut(
        technology=TechnologyOut.model_validate(entry.technology),
        last_equity_audit=EquityAuditOut.model_validate(a) if a else None,
        versions=[TechnologyVersionOut.model_validate(v) for v in entry.versions])


def register_out(platform: PlatformDep) -> list[TechnologyRegisterOut]:
    return [entry_out(e) for e in technology.register_entries(platform)]


@router.get("", response_model=list[TechnologyRegisterOut])
def list_register(actor: Reader, platform: PlatformDep) -> list[TechnologyRegisterOut]:
    """Every engine setup with its last equity audit and its published versions."""
    return register_out(platform)


@router.post("", response_model=TechnologyOut, status_code=201)
def register_technology(data: RegisterEntryIn, actor: Registrar,
                        platform: PlatformDep) -> TechnologyOut:
    """Add an engine setup to the register with its ATRS fields (admin or oversight);
    version 1 is published."""
    return TechnologyOut.model_validate(technology.register_technology(platform, actor, data))


@router.post("/running-engine", response_model=TechnologyOut, status_code=201)
def register_running_engine(actor: Registrar, platform: PlatformDep) -> TechnologyOut:
    """Register the engine this platform runs, filled from the engine itself (model id
    with its weights hash, detector, descriptor and decision rule, default threshold)."""
    return TechnologyOut.model_validate(technology.register_running_engine(platform, actor))


@router.put("/{technology_id}", response_model=TechnologyOut)
def correct(technology_id: IdPath, data: RegisterEntryIn, actor: Registrar,
            platform: PlatformDep) -> TechnologyOut:
    """Edit a register entry: every edit publishes a new version with its ``reason`` (a
    new model version belongs in a new entry)."""
    return TechnologyOut.model_validate(
        technology.update_technology(platform, actor, technology_id, data))


@router.get("/{technology_id}/equity-audits", response_model=list[EquityAuditOut])
def list_audits(technology_id: IdPath, actor: Reader,
                platform: PlatformDep) -> list[EquityAuditOut]:
    return [EquityAuditOut.model_validate(a)
            for a in technology.list_equity_audits(platform, actor, technology_id)]


@router.post("/{technology_id}/equity-audits", response_model=EquityAuditOut, status_code=201)
def record_audit(technology_id: IdPath, data: EquityAuditIn, actor: Auditor,
                 platform: PlatformDep) -> EquityAuditOut:
    """Record an equity audit; its fair threshold is the floor for the threshold gate."""
    return EquityAuditOut.model_validate(
        technology.record_equity_audit(platform, actor, technology_id, data))
