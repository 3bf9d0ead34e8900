"""Council motions (recorded by oversight, or by a councillor for their areas) and the
force's published responses, point by point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from openlfr.services import consultations
from openlfr.services.answer_history import versions
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action
from openlfr.services.public_view import area_names
from openlfr.services.schemas import MotionIn, MotionResponseIn
from openlfr.storage import models as m
from openlfr.web.api import AUTH_ERRORS, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import AnswerVersionOut, AreaOut, MotionOut

router = APIRouter(prefix="/motions", tags=["motions"], responses={**AUTH_ERRORS, **NOT_FOUND})
Reader = Annotated[Actor, power(Action.MOTION_READ)]
Recorder = Annotated[Actor, power(Action.MOTION_RECORD)]


def motion_out(platform: Platform, x: m.CouncilMotion) -> MotionOut:
    return MotionOut(
        id=x.id, body=x.body, passed_on=x.passed_on, stance=x.stance, summary=x.summary,
        link=x.link, areas=[AreaOut(**a) for a in area_names(platform, list(x.area_codes))],
        unmatched_areas=list(x.unmatched_areas), points=list(x.points),
        point_answers=list(x.point_answers), response=x.response,
        response_published_at=x.response_published_at, recorded_by=x.recorded_by,
        response_published_by=x.response_published_by,
        response_history=[AnswerVersionOut.model_validate(v)
                          for v in versions(x.response_history)])


@router.get("", response_model=list[MotionOut])
def list_motions(actor: Reader, platform: PlatformDep) -> list[MotionOut]:
    return [motion_out(platform, x) for x in consultations.list_motions(platform, actor)]


@router.post("", response_model=MotionOut, status_code=201)
def record_motion(data: MotionIn, actor: Recorder, platform: PlatformDep) -> MotionOut:
    """Record a motion (oversight; a councillor for their areas). Areas come from the
    gazetteer. Deployments in its areas cannot be authorised until it has a published
    response; a motion asking to suspend or oppose LFR keeps them from going ahead until
    each of its points is answered and a two-person override is countersigned."""
    return motion_out(platform, consultations.record_motion(platform, actor, data))


@router.get("/{motion_id}", response_model=MotionOut)
def get_motion(motion_id: IdPath, actor: Reader, platform: PlatformDep) -> MotionOut:
    return motion_out(platform, consultations.get_motion(platform, actor, motion_id))


@router.put("/{motion_id}", response_model=MotionOut)
def correct_motion(motion_id: IdPath, data: MotionIn, actor: Recorder,
                   platform: PlatformDep) -> MotionOut:
    """Correct how a motion was recorded (answers to points that changed are dropped)."""
    return motion_out(platform, consultations.correct_motion(platform, actor, motion_id, data))


@router.post("/{motion_id}/response", response_model=MotionOut)
def respond(motion_id: IdPath, data: MotionResponseIn,
            actor: Annotated[Actor, power(Action.MOTION_RESPOND)],
            platform: PlatformDep) -> MotionOut:
    """Publish the response to a motion, with an answer of substance to each of its points
    ("Noted." or "n/a" is refused with 422 naming the field, e.g. ``point_answers.1``).
    Revising a published response needs ``revision_reason``; the earlier version stays
    published in ``response_history``."""
    return motion_out(platform, consultations.respond_to_motion(platform, actor, motion_id,
                                                                data))
