"""The engine-node API: fetch an active deployment's watchlist, send alerts and counters.

Authenticated with an API key (X-API-Key header). Every call is refused, with the reason,
unless the deployment is active (and, for a scoped key, is the key's deployment).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from openlfr.services import alerts, watchlists
from openlfr.services.schemas import AlertIn, CountersIn
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, Node, PlatformDep
from openlfr.web.schemas import AlertOut, CountersReceipt, NodeEntryOut, NodeWatchlistOut

router = APIRouter(prefix="/node/deployments/{deployment_id}", tags=["engine node"],
                   responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT})


@router.get("/watchlist", response_model=NodeWatchlistOut)
def node_watchlist(deployment_id: IdPath, actor: Node, platform: PlatformDep) -> NodeWatchlistOut:
    """Descriptors to match against, with the deployment's threshold; active only."""
    released = watchlists.release_to_node(platform, actor, deployment_id)
    return NodeWatchlistOut(
        deployment_id=released.deployment_id, reference=released.reference,
        threshold=released.threshold, descriptor_model=released.descriptor_model,
        built_at=released.built_at,
        entries=[NodeEntryOut(entry_id=e.entry_id, category=e.category,
                              descriptors=e.descriptors) for e in released.entries])


@router.post("/alerts", response_model=AlertOut, status_code=201)
def post_alert(deployment_id: IdPath, data: AlertIn, actor: Node,
               platform: PlatformDep) -> AlertOut:
    """Report an alert; resending the same alert_uid is safe (recorded once)."""
    return AlertOut.model_validate(alerts.record_alert(platform, actor, deployment_id, data))


@router.post("/counters", response_model=CountersReceipt, status_code=201)
def post_counters(deployment_id: IdPath, data: CountersIn, actor: Node,
                  platform: PlatformDep, response: Response) -> CountersReceipt:
    """Add faces seen and tracks; resending the same batch_id is safe (counted once)."""
    batch, counted = alerts.record_counters(platform, actor, deployment_id, data)
    if not counted:
        response.status_code = 200
    return CountersReceipt(batch_id=batch.batch_id, counted=counted)
