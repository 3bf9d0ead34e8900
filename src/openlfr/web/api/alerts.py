"""Alerts (operators adjudicate and record outcomes) and deployment figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response

from openlfr.services import alerts, outcomes
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import AdjudicationIn, OutcomeIn
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import AlertOut, FiguresOut

router = APIRouter(tags=["alerts"], responses={**AUTH_ERRORS, **NOT_FOUND})
AlertReader = Annotated[Actor, power(Action.ALERT_READ)]
# Photos of the people involved: only those who adjudicate or authorise.
AlertPhotoViewer = Annotated[Actor, power(Action.ALERT_PHOTO_READ)]
Operator = Annotated[Actor, power(Action.ALERT_DECIDE)]


@router.get("/deployments/{deployment_id}/alerts", response_model=list[AlertOut])
def list_alerts(deployment_id: IdPath, actor: AlertReader,
                platform: PlatformDep) -> list[AlertOut]:
    return [AlertOut.model_validate(a)
            for a in alerts.list_alerts(platform, actor, deployment_id)]


@router.get("/deployments/{deployment_id}/figures", response_model=FiguresOut)
def figures(deployment_id: IdPath, actor: Annotated[Actor, power(Action.FIGURES_READ)],
            platform: PlatformDep) -> FiguresOut:
    """Faces seen, tracks, alerts, confirmed, false, outcomes."""
    return FiguresOut.model_validate(alerts.deployment_figures(platform, actor, deployment_id))


_JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "The photo (JPEG)."}}
# Photos of people: never cached by a browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@router.get("/alerts/{alert_id}/probe.jpg", response_class=Response, responses=_JPEG)
def probe_crop(alert_id: IdPath, actor: AlertPhotoViewer, platform: PlatformDep) -> Response:
    """The face the camera saw (until its retention ends)."""
    return Response(alerts.alert_image(platform, actor, alert_id, alerts.AlertImage.PROBE),
                    media_type="image/jpeg", headers=_NO_STORE)


@router.get("/alerts/{alert_id}/reference.jpg", response_class=Response, responses=_JPEG)
def reference_photo(alert_id: IdPath, actor: AlertPhotoViewer,
                    platform: PlatformDep) -> Response:
    """The watchlist's reference photo of the subject the alert names (until the
    watchlist is destroyed)."""
    return Response(alerts.alert_image(platform, actor, alert_id, alerts.AlertImage.REFERENCE),
                    media_type="image/jpeg", headers=_NO_STORE)


@router.post("/alerts/{alert_id}/adjudication", response_model=AlertOut)
def adjudicate(alert_id: IdPath, data: AdjudicationIn, actor: Operator,
               platform: PlatformDep) -> AlertOut:
    """Confirm, dismiss as false, or mark unclear."""
    return AlertOut.model_validate(alerts.adjudicate_alert(platform, actor, alert_id, data))


@router.post("/alerts/{alert_id}/outcome", response_model=AlertOut, responses=CONFLICT)
def outcome(alert_id: IdPath, data: OutcomeIn, actor: Operator,
            platform: PlatformDep) -> AlertOut:
    """What happened after the alert (arrest, no further action, ...)."""
    return AlertOut.model_validate(alerts.record_outcome(platform, actor, alert_id, data))


@router.post("/alerts/{alert_id}/later-outcome", response_model=AlertOut, responses=CONFLICT)
def later_outcome(alert_id: IdPath, data: outcomes.LaterOutcomeIn,
                  actor: Annotated[Actor, power(Action.LATER_OUTCOME_RECORD)],
                  platform: PlatformDep) -> AlertOut:
    """What followed an arrest after the alert (charged, cautioned, released without
    charge, no further action), within the window; 409 for an alert that was not followed
    by an arrest or once the window has closed."""
    return AlertOut.model_validate(
        outcomes.record_later_outcome(platform, actor, alert_id, data))
