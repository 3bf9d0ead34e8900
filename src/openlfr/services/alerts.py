"""Use cases for alerts, their adjudication and outcomes, and the engine's counters."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openlfr.audit import append_event, defer_head_moves
from openlfr.governance.errors import Conflict, GovernanceError, InvalidInput, NotFound
from openlfr.governance.lifecycle import (
    DeploymentStatus,
    lowest_threshold,
    require_score_at_threshold,
    threshold_during,
)
from openlfr.governance.lifecycle import has_ended as lifecycle_has_ended
from openlfr.governance.outcomes import recorded_group, settled_change_refusal
from openlfr.governance.records import Adjudication
from openlfr.services import figures, users
from openlfr.services.common import deployment_or_404, get_or_404
from openlfr.services.nodes import (
    node_deployment_or_404,
    require_node_delivery,
    require_recorded_times,
)
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.reports import record_changed_after_completion
from openlfr.services.schemas import (
    AdjudicationIn,
    AlertIn,
    CountersIn,
    NodeBatchIn,
    OutcomeIn,
)
from openlfr.services.tallies import defer_tallies
from openlfr.services.users import NodeKey
from openlfr.services.watchlists import encrypt_jpeg_b64, require_node_key
from openlfr.storage import models as m

# A node's alerts and counter batches are the platform's busiest writes (one request each,
# many a second): they are inserted with one Core statement each rather than through the
# ORM's unit of work, and a retry is detected by the insert itself, not a query before it.
# Those that arrive together are recorded in one transaction (``Platform.node_writes``,
# see services.group_commit) and answered after the one commit; the node's key is checked
# in that transaction, the audit head written and the tallies added once, at its commit.


def _insert_once(insert: Any, model: type[m.Alert] | type[m.CounterBatch], node_id: str) -> Any:
    """INSERT a row a node sent unless its deployment already has one with the same node id
    (a retry): the new row's id, or no row. Compiled once, sent with each row's values."""
    return (insert(model).on_conflict_do_nothing(index_elements=["deployment_id", node_id])
            .returning(model.id))


_NEW_ALERT = {"postgresql": _insert_once(postgresql_insert, m.Alert, "alert_uid"),
              "sqlite": _insert_once(sqlite_insert, m.Alert, "alert_uid")}
_NEW_BATCH = {"postgresql": _insert_once(postgresql_insert, m.CounterBatch, "batch_id"),
              "sqlite": _insert_once(sqlite_insert, m.CounterBatch, "batch_id")}


def record_alert(p: Platform, actor: Actor, deployment_id: int, data: AlertIn) -> m.Alert:
    """An engine node reports an alert. A retry with the same ``alert_uid`` returns the
    alert already recorded instead of counting it twice. An alert that occurred before the
    deployment ended is accepted late (see ``require_node_delivery``). Returns once the
    alert is committed (``submit_alert`` without waiting)."""
    return p.node_writes.result(submit_alert(p, actor, deployment_id, data))


def submit_alert(p: Platform, actor: Actor | NodeKey, deployment_id: int,
                 data: AlertIn) -> Future[m.Alert]:
    """``record_alert`` without waiting: the alert is recorded with the other node writes
    waiting (one transaction); the future holds it once committed, or the error that
    refused it alone, or ``WriteNotAnswered``. ``actor`` may be a key not yet checked
    (``NodeKey``): it is checked in that transaction (UnknownApiKey, PermissionDenied)."""
    node = _NodeWriter(p, actor)

    def record(s: Session) -> m.Alert:
        return _record_alert_in(s, p, node.actor_in(s),
                                node_deployment_or_404(s, deployment_id), data, node.now)

    def after_commit(alert: m.Alert) -> None:
        p.live.notify(alert.deployment_id)  # wake the operator consoles
        node.committed()

    return p.node_writes.submit(record, after_commit)


class _NodeWriter:
    """Who a node's single write is recorded for: an actor already known, checked against
    the powers table at once; or an API key not yet checked, checked in the transaction
    that records the write (the group's: one lookup a key, no connection of its own), and
    against the powers table there. The key is noted as used after the commit."""

    def __init__(self, p: Platform, actor: Actor | NodeKey) -> None:
        if isinstance(actor, Actor):
            require(actor, Action.NODE_RUN)
        self._p, self._given, self.now = p, actor, p.clock()
        self._used_key: int | None = None

    def actor_in(self, s: Session) -> Actor:
        if isinstance(self._given, Actor):
            return self._given
        actor, note_used = users.actor_for_api_key_in(s, self._given.secret, self.now)
        require(actor, Action.NODE_RUN)
        self._used_key = actor.api_key_id if note_used else None
        return actor

    def committed(self) -> None:
        if self._used_key is not None:
            users.note_api_key_used(self._p, self._used_key, self.now)


#: ``Session.info`` key: each deployment's threshold history, read once a session (a group
#: of node writes records many alerts of one deployment in one transaction).
_FLOORS = "openlfr_threshold_floors"


@dataclass(frozen=True)
class _Thresholds:
    """What an alert's score is held to: the lowest threshold that ran
    (``lowest_threshold``), and the threshold's changes, to find the one in force when
    the alert was raised (``threshold_during``)."""

    lowest_ran: float
    current: float
    changes: tuple[tuple[datetime, float, float], ...]

    def at(self, moment: datetime, received: datetime, skew: timedelta) -> float:
        """The threshold an alert raised at ``moment`` and received at ``received`` is held
        to. Delivered as it happened (within ``skew``), its node was in touch and had any
        raise (it applies the one the platform says at its next poll): the one in force
        then, give or take the skew. Delivered later, its node may have been offline when
        the threshold was raised and have decided by the one it had: the lowest that ran,
        so that no alert the engine really raised is lost."""
        if received - moment > skew:
            return self.lowest_ran
        during = threshold_during(self.current, self.changes, moment - skew, moment + skew)
        return max(self.lowest_ran, during)


def _threshold_floor(s: Session, p: Platform, d: m.Deployment, occurred_at: datetime,
                     now: datetime) -> float:
    """The threshold an alert raised at ``occurred_at`` and received ``now`` is held to
    (``_Thresholds.at``; never below the lowest that ran)."""
    known: dict[int, _Thresholds] = s.info.setdefault(_FLOORS, {})
    if d.id not in known:
        rows = list(s.execute(
            select(m.Amendment.status_before, m.Amendment.status_after, m.Amendment.changes,
                   m.Amendment.made_at).where(m.Amendment.deployment_id == d.id)
            .order_by(m.Amendment.made_at, m.Amendment.id)))
        known[d.id] = _Thresholds(
            lowest_threshold(d.threshold, DeploymentStatus(d.status),
                             ((b, a, cs) for b, a, cs, _ in rows)),
            d.threshold,
            tuple((made, float(c["before"]), float(c["after"])) for _, _, cs, made in rows
                  for c in cs if c.get("field") == "threshold"))
    return known[d.id].at(occurred_at, now, timedelta(seconds=p.settings.node_clock_skew_s))


def _record_alert_in(s: Session, p: Platform, actor: Actor, d: m.Deployment, data: AlertIn,
                     now: datetime) -> m.Alert:
    """Record one alert in ``s``: the row, its audit event and its tallies; a retry returns
    the row recorded first and changes nothing. The alert returned for a new row is not
    attached to ``s`` (it holds what was inserted)."""
    require_node_key(actor, d)
    try:
        require_node_delivery(p, actor, d, now, data.occurred_at)
    except GovernanceError:
        # A resend whose answer was lost is answered with what was recorded, never
        # refused afterwards (looked up only here: the usual path costs no query more).
        # Past the window, not logged: no key writes to the audit log after it.
        recorded = s.scalar(_alert_by_uid(d.id, data.alert_uid))
        if recorded is None:
            raise
        return recorded
    try:
        require_recorded_times(p, d, now, occurred_at=data.occurred_at)
        require_score_at_threshold(data.score,
                                   _threshold_floor(s, p, d, data.occurred_at, now))
        entry_id, category = _alert_entry(s, d.id, data)
    except GovernanceError:
        # As above; and a retry of an alert recorded before its entry went. What the
        # recorded alert passed, this one did not: not the same content.
        recorded = s.scalar(_alert_by_uid(d.id, data.alert_uid))
        if recorded is None:
            raise
        return _resent(s, actor, recorded, None, now)
    values = dict(deployment_id=d.id, alert_uid=data.alert_uid, occurred_at=data.occurred_at,
                  camera=data.camera, track_id=data.track_id, score=data.score,
                  second_opinion=data.second_opinion, entry_id=entry_id, entry_category=category,
                  adjudication=Adjudication.PENDING.value, received_at=now,
                  probe_crop_encrypted=encrypt_jpeg_b64(p.fernet, data.probe_crop_jpeg_b64),
                  api_key_id=actor.api_key_id)
    connection = s.connection()
    alert_id = connection.execute(_NEW_ALERT[connection.dialect.name], values).scalar()
    if alert_id is None:  # a retry: the alert is already recorded and counted
        return _resent(s, actor, s.scalars(_alert_by_uid(d.id, data.alert_uid)).one(),
                       values, now)
    alert = m.Alert(id=alert_id, **values)
    append_event(s, actor=actor.audit_name, action="alert.received",
                 subject_type="alert", subject_id=alert.id,
                 details={"deployment_id": d.id, "score": data.score,
                          "entry_id": entry_id, "api_key_id": actor.api_key_id,
                          **({"second_opinion": True} if data.second_opinion else {})},
                 now=now)
    # After the audit event: every writer takes the audit log's head before any tally
    # row, so two transactions can never wait for each other (PostgreSQL).
    figures.alert_recorded(s, alert)
    record_changed_after_completion(s, actor, d.id,
                                    f"alert {alert.id} delivered after completion", now)
    return alert


_Delivery = TypeVar("_Delivery", m.Alert, m.CounterBatch)


#: What a resend is compared on with what was recorded (``_resent``); of an alert's photo,
#: only whether one came (it is kept encrypted, each time differently).
_SAME = ("occurred_at", "camera", "track_id", "score", "second_opinion", "entry_id",
         "faces_seen", "tracks", "frames_processed", "frames_dropped", "frames_near_behind",
         "period_start", "period_end")


def _same(recorded: m.Alert | m.CounterBatch, sent: dict[str, Any] | None) -> bool:
    """Whether a resend carried what was recorded (None: it failed a check the recorded
    one passed)."""
    if sent is None:
        return False
    if isinstance(recorded, m.Alert) and (recorded.probe_crop_encrypted is None) != (
            sent.get("probe_crop_encrypted") is None):
        return False
    return all(getattr(recorded, name) == sent[name] for name in _SAME if name in sent)


def _resent(s: Session, actor: Actor, recorded: _Delivery, sent: dict[str, Any] | None,
            now: datetime) -> _Delivery:
    """A resend is answered with what was recorded, whichever key sends it. One from
    another key than the one that delivered it (a second van holding the same data, or a
    copied key) changes nothing, and is kept in the audit log, saying whether it carried
    the same content: what a key sent is whole. Only while deliveries are accepted (a
    refused resend is answered, not logged: no key writes to the log after its window)."""
    if recorded.api_key_id is not None and recorded.api_key_id != actor.api_key_id:
        same = _same(recorded, sent)
        append_event(s, actor=actor.audit_name, action="delivery.resent_by_another_key",
                     subject_type=recorded.__tablename__, subject_id=recorded.id,
                     details={"deployment_id": recorded.deployment_id,
                              "api_key_id": actor.api_key_id,
                              "delivered_by_key": recorded.api_key_id,
                              "same_content": same}, now=now)
    return recorded


def _alert_by_uid(deployment_id: int, alert_uid: str) -> Select[m.Alert]:
    return select(m.Alert).where(m.Alert.deployment_id == deployment_id,
                                 m.Alert.alert_uid == alert_uid)


def _batch_by_id(deployment_id: int, batch_id: str) -> Select[m.CounterBatch]:
    return select(m.CounterBatch).where(m.CounterBatch.deployment_id == deployment_id,
                                        m.CounterBatch.batch_id == batch_id)


#: The deployment's watchlist and, if it holds it, the alert's entry's category; built
#: once (one query an alert, reading neither the entry's photo nor its descriptors).
_ALERT_ENTRY = (
    select(m.Watchlist.destroyed_at, m.Watchlist.category_counts, m.Watchlist.reference_model,
           m.WatchlistEntry.category)
    .outerjoin(m.WatchlistEntry, and_(m.WatchlistEntry.watchlist_id == m.Watchlist.id,
                                      m.WatchlistEntry.id == bindparam("entry_id")))
    .where(m.Watchlist.deployment_id == bindparam("deployment_id")))


#: ``Session.info`` key: the entries ``_alert_entry`` looked up in the session.
_ALERT_ENTRIES = "openlfr_alert_entries"


def _alert_entry(s: Session, deployment_id: int, data: AlertIn) -> tuple[int | None, str]:
    """The alert's entry and category. Once the watchlist is destroyed (a late delivery)
    the entry is gone: the alert keeps the category the node was given, and no entry. An
    alert says the second opinion lifted it only where the watchlist decides with one
    (the published figures count those)."""
    # Read once a transaction, as ``node_deployment_or_404`` reads the deployment: a group
    # of node writes holds many alerts for the same few entries.
    looked_up: dict[tuple[int, int], Any] = s.info.setdefault(_ALERT_ENTRIES, {})
    key = (deployment_id, data.entry_id)
    if key not in looked_up:
        looked_up[key] = s.connection().execute(
            _ALERT_ENTRY, {"deployment_id": deployment_id, "entry_id": data.entry_id}).first()
    found = looked_up[key]
    if data.second_opinion and found is not None and found.reference_model is None:
        raise InvalidInput("second_opinion", "this deployment's watchlist decides without a "
                           "second opinion; no alert of it can have been lifted by one")
    if found is not None and found.destroyed_at is not None:
        if data.entry_category is None or data.entry_category not in found.category_counts:
            raise InvalidInput("entry_category", "the watchlist was destroyed when the "
                               "deployment ended; send the category of the entry as it was "
                               "released to the node")
        return None, data.entry_category
    if found is None or found.category is None:
        raise InvalidInput("entry_id",
                           f"entry {data.entry_id} is not on this deployment's watchlist")
    return data.entry_id, found.category


def record_counters(p: Platform, actor: Actor, deployment_id: int,
                    data: CountersIn) -> tuple[m.CounterBatch, bool]:
    """Add a node's batch of counts; returns (batch, newly_recorded). A batch id seen
    before is not counted again. A batch whose period began before the deployment ended is
    accepted late (see ``require_node_delivery``). Returns once the batch is committed
    (``submit_counters`` without waiting)."""
    return p.node_writes.result(submit_counters(p, actor, deployment_id, data))


def submit_counters(p: Platform, actor: Actor | NodeKey, deployment_id: int,
                    data: CountersIn) -> Future[tuple[m.CounterBatch, bool]]:
    """``record_counters`` without waiting, as ``submit_alert`` records an alert."""
    node = _NodeWriter(p, actor)

    def record(s: Session) -> tuple[m.CounterBatch, bool]:
        return _record_counters_in(s, p, node.actor_in(s),
                                   node_deployment_or_404(s, deployment_id), data, node.now)

    def after_commit(recorded: tuple[m.CounterBatch, bool]) -> None:
        batch, counted = recorded
        if counted:
            p.live.notify(batch.deployment_id)  # wake the operator consoles
        node.committed()

    return p.node_writes.submit(record, after_commit)


def _record_counters_in(s: Session, p: Platform, actor: Actor, d: m.Deployment,
                        data: CountersIn, now: datetime) -> tuple[m.CounterBatch, bool]:
    """Record one counter batch in ``s`` as ``_record_alert_in`` records an alert."""
    require_node_key(actor, d)
    try:
        require_node_delivery(p, actor, d, now, data.period_start)
    except GovernanceError:  # a resend whose answer was lost: see _record_alert_in
        recorded = s.scalar(_batch_by_id(d.id, data.batch_id))
        if recorded is None:
            raise
        return recorded, False
    try:
        require_recorded_times(p, d, now, period_start=data.period_start,
                               period_end=data.period_end)
    except GovernanceError:
        recorded = s.scalar(_batch_by_id(d.id, data.batch_id))
        if recorded is None:
            raise
        return _resent(s, actor, recorded, None, now), False
    values = dict(deployment_id=d.id, batch_id=data.batch_id, faces_seen=data.faces_seen,
                  tracks=data.tracks, frames_processed=data.frames_processed,
                  frames_dropped=data.frames_dropped,
                  frames_near_behind=data.frames_near_behind, period_start=data.period_start,
                  period_end=data.period_end, received_at=now, api_key_id=actor.api_key_id)
    connection = s.connection()
    batch_row_id = connection.execute(_NEW_BATCH[connection.dialect.name], values).scalar()
    if batch_row_id is None:  # a retry: the batch is already counted
        return _resent(s, actor, s.scalars(_batch_by_id(d.id, data.batch_id)).one(), values,
                       now), False
    batch = m.CounterBatch(id=batch_row_id, **values)
    append_event(s, actor=actor.audit_name, action="counters.received",
                 subject_type="deployment", subject_id=d.id,
                 details={"batch_id": data.batch_id, "faces_seen": data.faces_seen,
                          "tracks": data.tracks,
                          "frames_processed": data.frames_processed,
                          "frames_dropped": data.frames_dropped,
                          "frames_near_behind": data.frames_near_behind,
                          "api_key_id": actor.api_key_id}, now=now)
    figures.counter_batch_recorded(s, batch)  # after the audit event: see _record_alert_in
    record_changed_after_completion(s, actor, d.id,
                                    f"counts {data.batch_id} delivered after completion", now)
    return batch, True


@dataclass(frozen=True)
class NodeBatchRecorded:
    """What a node's batch did: each alert as recorded, each counter batch and whether it
    was newly counted, in the order sent."""

    alerts: list[m.Alert]
    counters: list[tuple[m.CounterBatch, bool]]


def record_node_batch(p: Platform, actor: Actor, deployment_id: int,
                      data: NodeBatchIn) -> NodeBatchRecorded:
    """Several alerts and counter batches from a node in one transaction: each recorded
    exactly as ``record_alert`` and ``record_counters`` record it (retries recorded once,
    an audit event each), all or none (an error names what was wrong and nothing is
    kept, so the node can send the batch again)."""
    require(actor, Action.NODE_RUN)
    now = p.clock()
    with p.sessions.begin() as s:
        d = node_deployment_or_404(s, deployment_id)
        # The audit head before the first insert, as the single writes do (group_commit),
        # written once at commit with the tallies summed (no SAVEPOINT in here).
        defer_head_moves(s)
        defer_tallies(s)
        recorded = NodeBatchRecorded(
            alerts=[_record_alert_in(s, p, actor, d, a, now) for a in data.alerts],
            counters=[_record_counters_in(s, p, actor, d, c, now) for c in data.counters])
    p.live.notify(deployment_id)  # wake the operator consoles
    return recorded


class AlertImage(StrEnum):
    """The two photos an operator compares: the face the camera saw and the watchlist's."""

    PROBE = "probe"
    REFERENCE = "reference"


def alert_image(p: Platform, actor: Actor, alert_id: int, which: AlertImage) -> bytes:
    """The JPEG bytes of an alert's probe crop or of its watchlist entry's reference photo,
    for the people who adjudicate it. NotFound, saying why, once either has been deleted."""
    require(actor, Action.ALERT_PHOTO_READ)
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


def list_alerts(p: Platform, actor: Actor, deployment_id: int) -> list[m.Alert]:
    """A deployment's alerts (operators, authorisers, oversight)."""
    require(actor, Action.ALERT_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        return list(s.scalars(select(m.Alert).where(m.Alert.deployment_id == deployment_id)
                              .order_by(m.Alert.occurred_at, m.Alert.id)))


def _alert_for_update(s: Session, alert_id: int) -> m.Alert:
    """The alert, locked until the transaction ends (PostgreSQL; SQLite's writes are
    serialised anyway): what it counted before a change is then what it counted."""
    alert = s.get(m.Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


def has_ended(d: m.Deployment, now: datetime) -> bool:
    """``lifecycle.has_ended`` for a deployment row."""
    return lifecycle_has_ended(DeploymentStatus(d.status), d.end_at, d.completed_at,
                               d.activated_at, now)


def _settled_change(s: Session, p: Platform, alert: m.Alert, what: str, recorded: str,
                    before: str | None, after: str | None, reason: str | None,
                    now: datetime) -> str:
    """Refuse a change the governance rule does not allow (``settled_change_refusal``);
    return the review's reason for the record (``recorded``: its words for a first record),
    a change with its before, after and reason."""
    d = deployment_or_404(s, alert.deployment_id)
    refusal = settled_change_refusal(what, before, after, occurred_at=alert.occurred_at,
                                     now=now, ended=has_ended(d, now),
                                     window_days=p.settings.later_outcome_window_days,
                                     reason=reason)
    if refusal:
        raise Conflict(refusal)
    if before is None or before == after:
        return f"alert {alert.id} {recorded} after completion"
    shown = (before or "").replace("_", " "), (after or "").replace("_", " ")
    return (f"alert {alert.id} {what} changed after completion from {shown[0]} to "
            f"{shown[1]}: {reason}")


def adjudicate_alert(p: Platform, actor: Actor, alert_id: int, data: AdjudicationIn) -> m.Alert:
    """An operator decides whether the alert is a true match (a change of decision after
    the deployment ended: see ``settled_change_refusal``)."""
    require(actor, Action.ALERT_DECIDE)
    now = p.clock()
    with p.sessions.begin() as s:
        alert = _alert_for_update(s, alert_id)
        previous, counted = alert.adjudication, figures.alert_tally(alert)
        why = _settled_change(
            s, p, alert, "decision", "adjudicated",
            None if previous == Adjudication.PENDING.value else previous,
            data.adjudication, data.reason, now)
        alert.adjudication = data.adjudication
        alert.adjudicated_by, alert.adjudicated_at = actor.audit_name, now
        append_event(s, actor=actor.audit_name, action="alert.adjudicated",
                     subject_type="alert", subject_id=alert.id,
                     details={"from": previous, "to": data.adjudication,
                              **({"reason": data.reason} if data.reason else {})}, now=now)
        figures.alert_changed(s, alert, counted)  # after the audit event (lock order)
        record_changed_after_completion(s, actor, alert.deployment_id, why, now)
    p.live.notify(alert.deployment_id)  # wake the operator consoles
    return alert


def record_outcome(p: Platform, actor: Actor, alert_id: int, data: OutcomeIn) -> m.Alert:
    """Record what happened after an adjudicated alert (a change of what was recorded
    after the deployment ended: see ``settled_change_refusal``)."""
    require(actor, Action.ALERT_DECIDE)
    now = p.clock()
    with p.sessions.begin() as s:
        alert = _alert_for_update(s, alert_id)
        if alert.adjudication == Adjudication.PENDING.value:
            raise Conflict("adjudicate the alert (true, false or unclear) before recording an "
                           "outcome")
        try:
            group = recorded_group(data.demographic_group, p.settings.demographic_groups)
        except ValueError as exc:
            raise InvalidInput("demographic_group", str(exc)) from None
        before = (None if alert.outcome is None
                  else f"{alert.outcome}, group {alert.demographic_group or 'not recorded'}")
        after = f"{data.outcome.value}, group {group or 'not recorded'}"
        why = _settled_change(s, p, alert, "outcome", "outcome recorded", before, after,
                              data.reason, now)
        counted = figures.alert_tally(alert)
        previous = alert.outcome
        alert.outcome, alert.outcome_recorded_at = data.outcome.value, now
        alert.demographic_group = group
        append_event(s, actor=actor.audit_name, action="alert.outcome_recorded",
                     subject_type="alert", subject_id=alert.id,
                     details={"outcome": alert.outcome,
                              **({"from": previous} if previous else {}),
                              **({"reason": data.reason} if data.reason else {})}, now=now)
        figures.alert_changed(s, alert, counted)  # after the audit event (lock order)
        record_changed_after_completion(s, actor, alert.deployment_id, why, now)
    p.live.notify(alert.deployment_id)  # wake the operator consoles
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
    second_opinion_alerts: int
    second_opinion_false_alerts: int
    #: The node counted more faces passing than the cameras could have seen
    #: (``governance.records.counts_beyond_cameras``): no rate per face is published.
    counts_beyond_cameras: bool = False


def deployment_figures(p: Platform, actor: Actor, deployment_id: int) -> DeploymentFigures:
    """A deployment's totals before they are published (staff)."""
    require(actor, Action.FIGURES_READ)
    return totals(figures.deployment_figures(p, deployment_id).total)


def totals(total: figures.Figures) -> DeploymentFigures:
    """The totals the API shows, from the one place figures are computed."""
    return DeploymentFigures(
        faces_seen=total.faces_seen, tracks=total.tracks, alerts=total.alerts,
        confirmed=total.confirmed, false_alerts=total.false_alerts, unclear=total.unclear,
        pending=total.pending, outcomes=dict(total.outcomes),
        second_opinion_alerts=total.second_opinion_alerts,
        second_opinion_false_alerts=total.second_opinion_false_alerts,
        counts_beyond_cameras=bool(total.counts_beyond_cameras))
