"""Enrolling a watchlist subject from photos: the engine finds exactly one face in each
photo and describes it; the platform stores the descriptors (encrypted) and the aligned
face of the first photo as the entry's encrypted reference photo. The photos themselves
are not kept.

The engine's networks take seconds to load, so they are loaded once per process, on the
first photo, and shared (behind a lock: one photo is described at a time).
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass

import cv2

from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.recognition import FaceAnalyzer, PhotoRejected, describe_enrolment_photo
from openlfr.recognition.analyzer import reference_model_id
from openlfr.recognition.backends import engine_model_id as default_engine_model_id
from openlfr.recognition.faces import RGBImage
from openlfr.recognition.images import ImageError, decode_image
from openlfr.services import watchlists
from openlfr.services.common import deployment_or_404
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import WatchlistEntryIn, WatchlistIn, WatchlistSubjectIn
from openlfr.storage import models as m

#: Photos per subject: an entry holds at most this many descriptors.
MAX_PHOTOS_PER_SUBJECT = 20
REFERENCE_JPEG_QUALITY = 90

_engine: FaceAnalyzer | None = None
_engine_lock = threading.Lock()


@dataclass(frozen=True)
class Photo:
    """An uploaded photo: the name the person gave it (for messages) and its bytes."""

    name: str
    data: bytes


def engine_model_id() -> str:
    """The descriptor model the platform enrols with (cheap: a hash of the weights file),
    for creating a watchlist that photos can be added to."""
    return default_engine_model_id()


def photo_watchlist(second_opinion: bool = False) -> WatchlistIn:
    """A watchlist the platform can enrol photos on: described by its engine's model and,
    with ``second_opinion``, by the second opinion's too (nodes then decide with it)."""
    return WatchlistIn(descriptor_model=engine_model_id(),
                       reference_model=reference_model_id() if second_opinion else None)


@dataclass(frozen=True)
class _Described:
    descriptor: list[float]
    chip: RGBImage
    reference: list[float] | None


def _describe(photos: list[Photo], second_opinion: bool) -> list[_Described]:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = FaceAnalyzer()
        try:
            described = [describe_enrolment_photo(p.data, p.name, _engine, second_opinion)
                         for p in photos]
        except PhotoRejected as exc:
            raise InvalidInput("photo", str(exc)) from None
    return [_Described([float(x) for x in d.descriptor], d.chip,
                       None if d.reference is None else [float(x) for x in d.reference])
            for d in described]


def _jpeg_b64(chip: RGBImage) -> str:
    ok, encoded = cv2.imencode(".jpg", chip[:, :, ::-1],
                               [cv2.IMWRITE_JPEG_QUALITY, REFERENCE_JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit image
        raise RuntimeError("could not encode the reference photo as JPEG")
    return base64.b64encode(encoded.tobytes()).decode("ascii")


def _check_can_enrol(p: Platform, deployment_id: int) -> bool:
    """Refuse before the engine loads when the watchlist cannot take a photo entry; whether
    its photos need the second opinion's descriptors too."""
    with p.sessions() as s:
        d = deployment_or_404(s, deployment_id)
        w = watchlists.watchlist_of(s, deployment_id)
        watchlists.require_watchlist_editable(d, w)
        for kind, wanted, ours in (("descriptor model", w.descriptor_model, engine_model_id()),
                                   ("second opinion", w.reference_model, reference_model_id())):
            if wanted is not None and wanted != ours:
                raise Conflict(f"this watchlist is for {kind} {wanted!r}, but the platform "
                               f"describes photos with {ours!r}; add entries with "
                               "descriptors from that model instead")
        return w.reference_model is not None


def enrol_from_photos(p: Platform, actor: Actor, deployment_id: int,
                      subject: WatchlistSubjectIn, photos: list[Photo]) -> m.WatchlistEntry:
    """Add a subject from one or more photos, each with exactly one face. A photo that
    cannot be used (unreadable, no face, several faces, face too small) refuses the whole
    entry with a message naming it, and nothing is stored."""
    require(actor, Action.WATCHLIST_WRITE)
    if not photos:
        raise InvalidInput("photo", "send at least one photo of the subject")
    if len(photos) > MAX_PHOTOS_PER_SUBJECT:
        raise InvalidInput("photo", f"{len(photos)} photos sent; at most "
                           f"{MAX_PHOTOS_PER_SUBJECT} per subject")
    watchlists.require_allowed_category(p, subject.category)  # before the engine's work
    second_opinion = _check_can_enrol(p, deployment_id)
    for photo in photos:  # cheap checks first: the engine loads only for real images
        try:
            decode_image(photo.data, photo.name)
        except ImageError as exc:
            raise InvalidInput("photo", str(exc)) from None
    described = _describe(photos, second_opinion)
    entry = WatchlistEntryIn(
        **subject.model_dump(), descriptors=[d.descriptor for d in described],
        references=[d.reference for d in described if d.reference is not None] or None,
        image_jpeg_b64=_jpeg_b64(described[0].chip))
    return watchlists.add_entry(p, actor, deployment_id, entry)


def reference_photo(p: Platform, actor: Actor, deployment_id: int, entry_id: int) -> bytes:
    """The JPEG of an entry's reference photo, for the roles that read the watchlist."""
    require(actor, Action.WATCHLIST_READ)
    with p.sessions() as s:
        w = watchlists.watchlist_of(s, deployment_id)
        entry = s.get(m.WatchlistEntry, entry_id)
        if entry is None or entry.watchlist_id != w.id:
            raise NotFound(f"watchlist entry {entry_id} is not on deployment {deployment_id}'s "
                           "watchlist (a destroyed watchlist has no entries)")
        if entry.image_encrypted is None:
            raise NotFound(f"watchlist entry {entry_id} has no reference photo")
        return p.fernet.decrypt(entry.image_encrypted)
