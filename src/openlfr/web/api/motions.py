"""Council motions and the force's published responses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from openlfr.services import consultations
from openlfr.services.platform import Actor, Role
from openlfr.services.schemas import MotionIn, MotionResponseIn
from openlfr.web.api import AUTH_ERRORS, NOT_FOUND
from openlfr.web.deps import IdPath, PlannerOrAuthoriser, PlatformDep, Staff, require
from openlfr.web.schemas import MotionOut

router = APIRouter(prefix="/motions", tags=["motions"], responses={**AUTH_ERRORS, **NOT_FOUND})
MotionRecorder = Annotated[Actor, Depends(require(Role.OVERSIGHT, Role.PLANNER))]


@router.get("", response_model=list[MotionOut])
def list_motions(actor: Staff, platform: PlatformDep) -> list[MotionOut]:
    return [MotionOut.model_validate(x) for x in consultations.list_motions(platform)]


@router.post("", response_model=MotionOut, status_code=201)
def record_motion(data: MotionIn, actor: MotionRecorder, platform: PlatformDep) -> MotionOut:
    """Record a motion (oversight or planner). Deployments in its areas cannot be
    authorised until it has a published response."""
    return MotionOut.model_validate(consultations.record_motion(platform, actor, data))


@router.get("/{motion_id}", response_model=MotionOut)
def get_motion(motion_id: IdPath, actor: Staff, platform: PlatformDep) -> MotionOut:
    return MotionOut.model_validate(consultations.get_motion(platform, motion_id))


@router.put("/{motion_id}", response_model=MotionOut)
def correct_motion(motion_id: IdPath, data: MotionIn, actor: MotionRecorder,
                   platform: PlatformDep) -> MotionOut:
    """Correct how a motion was recorded."""
    return MotionOut.model_validate(consultations.correct_motion(platform, actor, motion_id,
                                                                 data))


@router.post("/{motion_id}/response", response_model=MotionOut)
def respond(motion_id: IdPath, data: MotionResponseIn, actor: PlannerOrAuthoriser,
            platform: PlatformDep) -> MotionOut:
    """Publish the response to a motion."""
    return MotionOut.model_validate(consultations.respond_to_motion(platform, actor, motion_id,
                                                                    data))
