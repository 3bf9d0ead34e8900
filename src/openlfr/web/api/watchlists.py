"""A deployment's watchlist (staff). Descriptors go in, and never come back out here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from openlfr.services import watchlist_photos, watchlists
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import (
    Category,
    Day,
    Name200,
    Short,
    WatchlistEntryIn,
    WatchlistIn,
    WatchlistSubjectIn,
)
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import WatchlistEntryOut, WatchlistOut, WatchlistStaffOut

router = APIRouter(prefix="/deployments/{deployment_id}/watchlist", tags=["watchlists"],
                   responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT})
# Subject references are personal: only the roles that build or act on the list see them.
WatchlistReader = Annotated[Actor, power(Action.WATCHLIST_READ)]
Planner = Annotated[Actor, power(Action.WATCHLIST_WRITE)]


@router.get("", response_model=WatchlistStaffOut)
def get_watchlist(deployment_id: IdPath, actor: WatchlistReader,
                  platform: PlatformDep) -> WatchlistStaffOut:
    w, entries = watchlists.get_watchlist(platform, actor, deployment_id)
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


@router.post("/photos", response_model=WatchlistEntryOut, status_code=201)
def add_entry_from_photos(
    deployment_id: IdPath,
    actor: Planner,
    platform: PlatformDep,
    photo: Annotated[list[UploadFile], File(
        description="One or more photos of the subject alone (JPEG, PNG...), each with one "
        "face at least 40 px wide.")],
    subject_ref: Annotated[Short, Form(description="Internal reference; never shown "
                                                   "publicly.")],
    category: Annotated[Category, Form()],
    source: Annotated[Name200, Form()],
    authorised_by: Annotated[Short, Form()],
    image_taken_on: Annotated[Day, Form()],
    expires_on: Annotated[Day | None, Form()] = None,
) -> WatchlistEntryOut:
    """Enrol a subject from photos: the platform's engine finds the face in each photo and
    computes the descriptors; the aligned face becomes the encrypted reference photo. A
    photo with no face, several faces, a face too small or unreadable bytes is refused
    (422, naming the file) and nothing is stored."""
    subject = WatchlistSubjectIn(
        subject_ref=subject_ref, category=category, source=source,
        authorised_by=authorised_by, image_taken_on=image_taken_on, expires_on=expires_on)
    photos = [watchlist_photos.Photo(upload.filename or f"photo {n}", upload.file.read())
              for n, upload in enumerate(photo, start=1)]
    return WatchlistEntryOut.model_validate(watchlist_photos.enrol_from_photos(
        platform, actor, deployment_id, subject, photos))


@router.delete("/entries/{entry_id}", status_code=204)
def remove_entry(deployment_id: IdPath, entry_id: IdPath, actor: Planner,
                 platform: PlatformDep) -> None:
    watchlists.remove_entry(platform, actor, deployment_id, entry_id)


@router.post("/build", response_model=WatchlistOut)
def build(deployment_id: IdPath, actor: Planner, platform: PlatformDep) -> WatchlistOut:
    """Mark the watchlist built now (the gate wants this within 24 h of the start)."""
    return WatchlistOut.model_validate(watchlists.build_watchlist(platform, actor, deployment_id))
