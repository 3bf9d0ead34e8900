"""The engine-node API: ask whether a deployment may run, fetch its watchlist, send alerts
and counters, report that the watchlist was dropped.

Authenticated with an API key (X-API-Key header). The watchlist is released only while the
deployment is active and inside its window; alerts and counts recorded before the end are
also accepted for the late-delivery time after it (a node's outbox after an outage).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from openlfr.services import alerts, nodes
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import AlertIn, CountersIn, NodeBatchIn, NodeWatchlistDroppedIn
from openlfr.services.users import NodeKey
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND, UNAVAILABLE
from openlfr.web.api.public import Reference
from openlfr.web.deps import IdPath, NodeWrite, PlatformDep, power
from openlfr.web.schemas import (
    CountersReceipt,
    NodeAlertReceipt,
    NodeBatchOut,
    NodeDeploymentOut,
    NodeEntryOut,
    NodeWatchlistOut,
)

router = APIRouter(prefix="/node/deployments", tags=["engine node"],
                   responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT})
Node = Annotated[Actor, power(Action.NODE_RUN)]
#: A node's single writes: the key is checked where the write is recorded (``NodeWrite``).
NodeWriter = Annotated[Actor | NodeKey, Depends(NodeWrite(Action.NODE_RUN))]


def _status_out(status: nodes.NodeDeploymentStatus) -> NodeDeploymentOut:
    return NodeDeploymentOut(
        deployment_id=status.deployment_id, reference=status.reference, status=status.status,
        start_at=status.start_at, end_at=status.end_at, threshold=status.threshold,
        may_run=status.may_run, reason=status.reason,
        late_delivery_until=status.late_delivery_until)


@router.get("/by-reference/{reference}", response_model=NodeDeploymentOut)
def node_deployment_by_reference(reference: Reference, actor: Node,
                                 platform: PlatformDep) -> NodeDeploymentOut:
    """The deployment a reference names, and whether a node may run for it now."""
    return _status_out(nodes.node_deployment_by_reference(platform, actor, reference))


@router.get("/{deployment_id}", response_model=NodeDeploymentOut)
def node_deployment(deployment_id: IdPath, actor: Node,
                    platform: PlatformDep) -> NodeDeploymentOut:
    """Whether a node may run now (the deployment is active, inside its window) and, if
    not, why; nodes poll this to stop when the deployment ends."""
    return _status_out(nodes.node_deployment_status(platform, actor, deployment_id))


@router.get("/{deployment_id}/watchlist", response_model=NodeWatchlistOut)
def node_watchlist(deployment_id: IdPath, actor: Node, platform: PlatformDep) -> NodeWatchlistOut:
    """Descriptors to match against, with the deployment's threshold; active only."""
    released = nodes.release_watchlist(platform, actor, deployment_id)
    return NodeWatchlistOut(
        deployment_id=released.deployment_id, reference=released.reference,
        threshold=released.threshold, descriptor_model=released.descriptor_model,
        reference_model=released.reference_model, built_at=released.built_at,
        entries=[NodeEntryOut(entry_id=e.entry_id, category=e.category,
                              descriptors=e.descriptors, references=e.references)
                 for e in released.entries])


# The three routes nodes write through are ``async``: FastAPI would otherwise hand a plain
# route to a worker thread and then check its answer in another hop, twice per request.
# A single alert or counter batch is handed to the process's group commit and awaited
# without holding a thread, its API key checked in the group's transaction; a batch runs
# its own transaction in a worker thread.


@router.post("/{deployment_id}/alerts", response_model=NodeAlertReceipt, status_code=201,
             responses=UNAVAILABLE)
async def post_alert(deployment_id: IdPath, data: AlertIn, actor: NodeWriter,
                     platform: PlatformDep) -> NodeAlertReceipt:
    """Report an alert; resending the same alert_uid is safe (recorded once). Answered
    once the alert is committed, with the alert as recorded (never what people decided of
    it); 503 means it was not acknowledged: send it again."""
    alert = await platform.node_writes.answer(
        alerts.submit_alert(platform, actor, deployment_id, data))
    return NodeAlertReceipt.model_validate(alert)


@router.post("/{deployment_id}/counters", response_model=CountersReceipt, status_code=201,
             responses=UNAVAILABLE)
async def post_counters(deployment_id: IdPath, data: CountersIn, actor: NodeWriter,
                        platform: PlatformDep, response: Response) -> CountersReceipt:
    """Add faces seen, tracks and frames; resending the same batch_id is safe (counted
    once). 503 means it was not acknowledged: send it again."""
    batch, counted = await platform.node_writes.answer(
        alerts.submit_counters(platform, actor, deployment_id, data))
    if not counted:
        response.status_code = 200
    return CountersReceipt(batch_id=batch.batch_id, counted=counted)


@router.post("/{deployment_id}/batch", response_model=NodeBatchOut, status_code=201)
async def post_batch(deployment_id: IdPath, data: NodeBatchIn, actor: Node,
                     platform: PlatformDep) -> NodeBatchOut:
    """Several alerts and counter batches (up to 200 of each) in one request and one
    transaction: each recorded as the single endpoints record it (retries once), all or
    none. A node with a backlog sends one request instead of hundreds."""
    recorded = await run_in_threadpool(alerts.record_node_batch, platform, actor,
                                       deployment_id, data)
    return NodeBatchOut(
        alerts=[NodeAlertReceipt.model_validate(a) for a in recorded.alerts],
        counters=[CountersReceipt(batch_id=b.batch_id, counted=c)
                  for b, c in recorded.counters])


@router.post("/{deployment_id}/watchlist-dropped", status_code=204)
def watchlist_dropped(deployment_id: IdPath, data: NodeWatchlistDroppedIn, actor: Node,
                      platform: PlatformDep) -> None:
    """The node stopped and dropped the watchlist from memory; recorded in the audit log
    (``node.watchlist_dropped``) with how many outbox items, if any, still wait."""
    nodes.record_watchlist_dropped(platform, actor, deployment_id, data)

