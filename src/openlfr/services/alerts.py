"""Use cases for alerts, their adjudication and outcomes, and the engine's counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select

from openlfr.audit import append_event
from openlfr.governance.errors import Conflict, NotFound
from openlfr.governance.records import Adjudication
from openlfr.services.common import deployment_or_404, get_or_404
from openlfr.services.platform import Actor, Platform, Role
from openlfr.services.schemas import AdjudicationIn, AlertIn, CountersIn, OutcomeIn
from openlfr.services.watchlists import (
    encrypt_jpeg_b64,
    entry_in_deployment,
    require_node_access,
)
from openlfr.storage import models as m


def record_alert(p: Platform, actor: Actor, deployment_id: int, data: AlertIn) -> m.Alert:
    """An engine node reports an alert. A retry with the same ``alert_uid`` returns the
    alert already recorded instead of counting it twice."""
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id)
        require_node_access(actor, d, now)
        existing = s.scalar(select(m.Alert).where(m.Alert.deployment_id == d.id,
                                                  m.Alert.alert_uid == data.alert_uid))
        if existing is not None:
            return existing
        entry = entry_in_deployment(s, d.id, data.entry_id)
        alert = m.Alert(deployment_id=d.id, alert_uid=data.alert_uid,
                        occurred_at=data.occurred_at, camera=data.camera,
                        track_id=data.track_id, score=data.score, entry_id=entry.id,
                        entry_category=entry.category, adjudication=Adjudication.PENDING.value,
                        received_at=now,
                        probe_crop_encrypted=encrypt_jpeg_b64(p.fernet, data.probe_crop_jpeg_b64))
        s.add(alert)
        s.flush()
        append_event(s, actor=actor.audit_name, action="alert.received",
                     subject_type="alert", subject_id=alert.id,
                     details={"deployment_id": d.id, "score": data.score,
                              "entry_id": entry.id}, now=now)
    return alert


def record_counters(p: Platform, actor: Actor, deployment_id: int,
                    data: CountersIn) -> tuple[m.CounterBatch, bool]:
    """Add a node's batch of counts; returns (batch, newly_recorded). A batch id seen
    before is not counted again."""
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id)
        require_node_access(actor, d, now)
        existing = s.scalar(select(m.CounterBatch).where(
            m.CounterBatch.deployment_id == d.id, m.CounterBatch.batch_id == data.batch_id))
        if existing is not None:
            return existing, False
        batch = m.CounterBatch(deployment_id=d.id, batch_id=data.batch_id,
                               faces_seen=data.faces_seen, tracks=data.tracks, received_at=now)
        s.add(batch)
        s.flush()
        append_event(s, actor=actor.audit_name, action="counters.received",
                     subject_type="deployment", subject_id=d.id,
                     details={"batch_id": data.batch_id, "faces_seen": data.faces_seen,
                              "tracks": data.tracks}, now=now)
    return batch, True


class AlertImage(StrEnum):
    """The two photos an operator compares: the face the camera saw and the watchlist's."""

    PROBE = "probe"
    REFERENCE = "reference"


def alert_image(p: Platform, actor: Actor, alert_id: int, which: AlertImage) -> bytes:
    """The JPEG bytes of an alert's probe crop or of its watchlist entry's reference photo,
    for the people who adjudicate it. NotFound, saying why, once either has been deleted."""
    actor.require(Role.OPERATOR, Role.AUTHORISER, doing="viewing alert photos")
    with p.sessions() as s:
        alert = get_or_404(s, m.Alert, alert_id, "alert")
        if which is AlertImage.PROBE:
            if alert.probe_crop_encrypted is None:
                if alert.probe_crop_purged_at is not None:
                    raise NotFound(f"alert {alert_id}'s probe crop was deleted on "
                                   f"{alert.probe_crop_purged_at:%Y-%m-%d %H:%M} UTC when its "
                                   "retention ended")
                raise NotFound(f"alert {alert_id} came without a probe crop")
            return p.fernet.decrypt(alert.probe_crop_encrypted)
        entry = s.get(m.WatchlistEntry, alert.entry_id) if alert.entry_id else None
        if entry is None:
            raise NotFound(f"alert {alert_id}'s watchlist entry no longer exists (the "
                           "watchlist is destroyed when the deployment ends)")
        if entry.image_encrypted is None:
            raise NotFound(f"watchlist entry {entry.id} has no reference photo")
        return p.fernet.decrypt(entry.image_encrypted)


def list_alerts(p: Platform, deployment_id: int) -> list[m.Alert]:
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return list(s.scalars(select(m.Alert).where(m.Alert.deployment_id == deployment_id)
                              .order_by(m.Alert.occurred_at, m.Alert.id)))


def adjudicate_alert(p: Platform, actor: Actor, alert_id: int, data: AdjudicationIn) -> m.Alert:
    """An operator decides whether the alert is a true match."""
    now = p.clock()
    with p.sessions.begin() as s:
        alert = get_or_404(s, m.Alert, alert_id, "alert")
        previous = alert.adjudication
        alert.adjudication = data.adjudication
        alert.adjudicated_by, alert.adjudicated_at = actor.audit_name, now
        append_event(s, actor=actor.audit_name, action="alert.adjudicated",
                     subject_type="alert", subject_id=alert.id,
                     details={"from": previous, "to": data.adjudication}, now=now)
    return alert


def record_outcome(p: Platform, actor: Actor, alert_id: int, data: OutcomeIn) -> m.Alert:
    """Record what happened after an adjudicated alert."""
    now = p.clock()
    with p.sessions.begin() as s:
        alert = get_or_404(s, m.Alert, alert_id, "alert")
        if alert.adjudication == Adjudication.PENDING.value:
            raise Conflict("adjudicate the alert (true, false or unclear) before recording an "
                           "outcome")
        alert.outcome, alert.outcome_recorded_at = data.outcome.value, now
        alert.demographic_group = data.demographic_group
        append_event(s, actor=actor.audit_name, action="alert.outcome_recorded",
                     subject_type="alert", subject_id=alert.id,
                     details={"outcome": alert.outcome}, now=now)
    return alert


@dataclass(frozen=True)
class DeploymentFigures:
    """The published figures, straight from what the engine and the operators recorded."""

    faces_seen: int
    tracks: int
    alerts: int
    confirmed: int
    false_alerts: int
    unclear: int
    pending: int
    outcomes: dict[str, int]


def deployment_figures(p: Platform, deployment_id: int) -> DeploymentFigures:
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        faces, tracks = s.execute(select(
            func.coalesce(func.sum(m.CounterBatch.faces_seen), 0),
            func.coalesce(func.sum(m.CounterBatch.tracks), 0),
        ).where(m.CounterBatch.deployment_id == deployment_id)).one()
        rows = s.execute(select(m.Alert.adjudication, m.Alert.outcome).where(
            m.Alert.deployment_id == deployment_id)).all()
        adjudications = Counter(a for a, _ in rows)
        outcomes = Counter(o for _, o in rows if o is not None)
        return DeploymentFigures(
            faces_seen=int(faces), tracks=int(tracks), alerts=len(rows),
            confirmed=adjudications[Adjudication.TRUE_MATCH.value],
            false_alerts=adjudications[Adjudication.FALSE_MATCH.value],
            unclear=adjudications[Adjudication.UNCLEAR.value],
            pending=adjudications[Adjudication.PENDING.value], outcomes=dict(outcomes))
