"""A deployment's watchlist (staff). Descriptors go in, and never come back out here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from openlfr.services import watchlists
from openlfr.services.platform import Actor, Role
from openlfr.services.schemas import WatchlistEntryIn, WatchlistIn
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, Planner, PlatformDep, require
from openlfr.web.schemas import WatchlistEntryOut, WatchlistOut, WatchlistStaffOut

router = APIRouter(prefix="/deployments/{deployment_id}/watchlist", tags=["watchlists"],
                   responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT})
# Subject references are personal: only the roles that build or act on the list see them.
WatchlistReader = Annotated[Actor, Depends(require(Role.PLANNER, Role.AUTHORISER,
                                                   Role.OPERATOR))]


@router.get("", response_model=WatchlistStaffOut)
def get_watchlist(deployment_id: IdPath, actor: WatchlistReader,
                  platform: PlatformDep) -> WatchlistStaffOut:
    w, entries = watchlists.get_watchlist(platform, deployment_id)
    return WatchlistStaffOut(watchlist=WatchlistOut.model_validate(w),
                             entries=[WatchlistEntryOut.model_validate(e) for e in entries])


@router.post("", response_model=WatchlistOut, status_code=201)
def create_watchlist(deployment_id: IdPath, data: WatchlistIn, actor: Planner,
                     platform: PlatformDep) -> WatchlistOut:
    """Start the deployment's watchlist for one descriptor model."""
    return WatchlistOut.model_validate(
        watchlists.create_watchlist(platform, actor, deployment_id, data))


@router.post("/entries", response_model=WatchlistEntryOut, status_code=201)
def add_entry(deployment_id: IdPath, data: WatchlistEntryIn, actor: Planner,
              platform: PlatformDep) -> WatchlistEntryOut:
    """Add a subject with descriptors (stored encrypted); the list must then be rebuilt."""
    return WatchlistEntryOut.model_validate(
        watchlists.add_entry(platform, actor, deployment_id, data))


@router.delete("/entries/{entry_id}", status_code=204)
def remove_entry(deployment_id: IdPath, entry_id: IdPath, actor: Planner,
                 platform: PlatformDep) -> None:
    watchlists.remove_entry(platform, actor, deployment_id, entry_id)


@router.post("/build", response_model=WatchlistOut)
def build(deployment_id: IdPath, actor: Planner, platform: PlatformDep) -> WatchlistOut:
    """Mark the watchlist built now (the gate wants this within 24 h of the start)."""
    return WatchlistOut.model_validate(watchlists.build_watchlist(platform, actor, deployment_id))
