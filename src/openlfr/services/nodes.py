"""Use cases for engine nodes beyond the watchlist: whether a deployment may run now,
late delivery of what a node recorded before the end, and the node's report that it
dropped the watchlist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload

from openlfr.audit import append_event
from openlfr.governance.errors import Conflict, NotFound
from openlfr.governance.lifecycle import (
    RAN_STATUSES,
    DeploymentStatus,
    ended_at,
    require_late_delivery,
    require_recorded_while_running,
    require_running_window,
)
from openlfr.services import watchlists
from openlfr.services.common import deployment_or_404
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import NodeWatchlistDroppedIn
from openlfr.services.watchlists import (
    require_node_access,
    require_node_key,
    require_own_deployment,
    serves,
)
from openlfr.storage import models as m


@dataclass(frozen=True)
class NodeDeploymentStatus:
    """What a node needs to decide whether to run: never anything personal."""

    deployment_id: int
    reference: str
    status: str
    start_at: datetime
    end_at: datetime
    threshold: float
    may_run: bool
    reason: str | None
    """Why the node may not run (the platform's own words); None when it may."""
    late_delivery_until: datetime | None
    """Once the deployment has ended: until when alerts and counts recorded before the end
    are still accepted."""


def _status(p: Platform, actor: Actor, d: m.Deployment, now: datetime) -> NodeDeploymentStatus:
    require_own_deployment(actor, d.id)
    require_node_key(actor, d)
    reason: str | None = None
    try:
        require_node_access(actor, d, now)
    except Conflict as exc:
        reason = str(exc)
    late_until: datetime | None = None
    if reason is not None and DeploymentStatus(d.status) in RAN_STATUSES:
        late_until = late_delivery_closes(p, d)
    return NodeDeploymentStatus(d.id, d.reference, d.status, d.start_at, d.end_at, d.threshold,
                                reason is None, reason, late_until)


def release_watchlist(p: Platform, actor: Actor,
                      deployment_id: int) -> watchlists.ReleasedWatchlist:
    """The watchlist for a node (``watchlists.release_to_node``: active deployments
    only), and only for the deployment its key serves: any other is answered as missing."""
    require(actor, Action.NODE_RUN)
    require_own_deployment(actor, deployment_id)
    return watchlists.release_to_node(p, actor, deployment_id)


def _late(p: Platform) -> timedelta:
    return timedelta(hours=p.settings.late_delivery_hours)


def late_delivery_closes(p: Platform, d: m.Deployment) -> datetime:
    """When a node may no longer deliver what it recorded before the end of a deployment
    that ran (``OPENLFR_LATE_DELIVERY_HOURS`` after the end)."""
    return ended_at(d.end_at, d.completed_at) + _late(p)


def node_deployment_status(p: Platform, actor: Actor, deployment_id: int) -> NodeDeploymentStatus:
    """Whether the node may run for this deployment now, and if not, why."""
    require(actor, Action.NODE_RUN)
    require_own_deployment(actor, deployment_id)
    now = p.clock()
    with p.sessions() as s:
        return _status(p, actor, deployment_or_404(s, deployment_id), now)


def node_deployment_by_reference(p: Platform, actor: Actor,
                                 reference: str) -> NodeDeploymentStatus:
    """The same, looked up by the reference an operator types (e.g. LFR-2026-0007)."""
    require(actor, Action.NODE_RUN)
    now = p.clock()
    with p.sessions() as s:
        d = s.scalar(select(m.Deployment).where(m.Deployment.reference == reference))
        if d is None or not serves(actor, d.id):
            raise NotFound(f"no deployment with reference {reference!r}")
        return _status(p, actor, d, now)


#: The deployment a node writes alerts or counts to, without its sites (nothing on that
#: path reads them); built once, as nodes write many times a second.
_NODE_DEPLOYMENT = (select(m.Deployment).options(lazyload(m.Deployment.sites))
                    .where(m.Deployment.id == bindparam("deployment_id")))


#: ``Session.info`` key: the deployments ``node_deployment_or_404`` loaded in the session.
_NODE_DEPLOYMENTS = "openlfr_node_deployments"


def node_deployment_or_404(s: Session, deployment_id: int) -> m.Deployment:
    """The deployment a node writes to; NotFound if there is none. Read once a session
    (a use case's transaction): a group of node writes (services.group_commit) asks for
    it once a write, and a second query would give back the object already loaded,
    unchanged, anyway."""
    loaded: dict[int, m.Deployment] = s.info.setdefault(_NODE_DEPLOYMENTS, {})
    d = loaded.get(deployment_id)
    if d is None:
        d = s.execute(_NODE_DEPLOYMENT, {"deployment_id": deployment_id}).scalar_one_or_none()
        if d is None:
            raise NotFound(f"deployment {deployment_id} does not exist")
        loaded[deployment_id] = d
    return d


def require_node_delivery(p: Platform, actor: Actor, d: m.Deployment, now: datetime,
                          recorded_at: datetime | None) -> None:
    """Alerts and counts are accepted while the deployment is active inside its window, and
    after it ended only when recorded before the end, within the late-delivery time. The
    caller has checked the key (``watchlists.require_node_key``), and answers a refused
    resend of what was recorded already with that record: a lost answer never turns into
    a refusal."""
    status = DeploymentStatus(d.status)
    if status is DeploymentStatus.ACTIVE and now < d.end_at:
        return
    if status not in RAN_STATUSES:
        require_node_access(actor, d, now)  # raises, naming the status
    if status is DeploymentStatus.ACTIVE and (recorded_at is None or recorded_at >= d.end_at):
        require_running_window(d.end_at, now)  # raises: the operator must complete it
    try:
        require_late_delivery(ended_at(d.end_at, d.completed_at), recorded_at, now, _late(p))
    except Conflict as exc:
        where = (f"its window ended at {d.end_at.isoformat()}" if status is DeploymentStatus.ACTIVE
                 else f"it is '{d.status}', not 'active'")
        raise Conflict(f"deployment {d.reference}: {where}: {exc}") from None


def require_recorded_times(p: Platform, d: m.Deployment, now: datetime,
                           **moments: datetime | None) -> None:
    """Each time a node reports (by field name) lies inside the time the deployment ran,
    give or take ``OPENLFR_NODE_CLOCK_SKEW_S``; say which does not and why."""
    began = d.activated_at or d.start_at
    ended = ended_at(d.end_at, d.completed_at)
    skew = timedelta(seconds=p.settings.node_clock_skew_s)
    for field, moment in moments.items():
        if moment is not None:
            require_recorded_while_running(field, moment, began, ended, now, skew)


def record_watchlist_dropped(p: Platform, actor: Actor, deployment_id: int,
                             data: NodeWatchlistDroppedIn) -> None:
    """Audit a node's report that it dropped the watchlist from memory (and whether its
    outbox is empty): the node-side half of destroying a watchlist."""
    require(actor, Action.NODE_RUN)
    require_own_deployment(actor, deployment_id)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id)
        require_node_key(actor, d)
        append_event(s, actor=actor.audit_name, action="node.watchlist_dropped",
                     subject_type="deployment", subject_id=d.id,
                     details={"run_id": data.run_id, "reason": data.reason,
                              "alerts_sent": data.alerts_sent,
                              "outbox_pending": data.outbox_pending}, now=now)
