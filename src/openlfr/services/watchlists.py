"""Use cases for a deployment's watchlist: entries in, descriptors encrypted at rest,
released only to an engine node of an active deployment, destroyed with the deployment.
A change after authorisation lapses the overrides whose failure it changes
(``overrides.lapse_changed_in``)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.governance.gates import category_problem
from openlfr.governance.lifecycle import DeploymentStatus, require_running_window
from openlfr.services import overrides
from openlfr.services.common import deployment_or_404
from openlfr.services.platform import Actor, Platform, Role
from openlfr.services.powers import Action, require
from openlfr.services.schemas import WatchlistEntryIn, WatchlistIn
from openlfr.storage import models as m

#: Statuses in which the watchlist may be assembled or changed.
WATCHLIST_EDITABLE = frozenset({DeploymentStatus.DRAFT, DeploymentStatus.PROPOSED,
                                DeploymentStatus.NOTICE_PUBLISHED, DeploymentStatus.AUTHORISED})


def encrypt_descriptors(fernet: Fernet, descriptors: list[list[float]]) -> bytes:
    """Descriptors as an encrypted, authenticated token (Fernet: AES-CBC + HMAC)."""
    return fernet.encrypt(json.dumps(descriptors, separators=(",", ":")).encode())


def decrypt_descriptors(fernet: Fernet, token: bytes) -> list[list[float]]:
    result: list[list[float]] = json.loads(fernet.decrypt(token))
    return result


def encrypt_jpeg_b64(fernet: Fernet, jpeg_b64: str | None) -> bytes | None:
    """A base64 JPEG (already validated) as an encrypted token of its bytes; None stays None."""
    if jpeg_b64 is None:
        return None
    return fernet.encrypt(base64.b64decode(jpeg_b64))


def watchlist_of(s: Session, deployment_id: int) -> m.Watchlist:
    """The deployment's watchlist (NotFound, saying to create one, when there is none)."""
    w = s.scalar(select(m.Watchlist).where(m.Watchlist.deployment_id == deployment_id))
    if w is None:
        raise NotFound(f"deployment {deployment_id} has no watchlist; create one first")
    return w


def require_watchlist_editable(d: m.Deployment, w: m.Watchlist | None) -> None:
    """Entries may change only before the deployment is active, and never once destroyed."""
    if DeploymentStatus(d.status) not in WATCHLIST_EDITABLE:
        raise Conflict(f"the watchlist of a '{d.status}' deployment can no longer be changed")
    if w is not None and w.destroyed_at is not None:
        raise Conflict("this watchlist has been destroyed")


def create_watchlist(p: Platform, actor: Actor, deployment_id: int,
                     data: WatchlistIn) -> m.Watchlist:
    """Start the deployment's (single) watchlist."""
    require(actor, Action.WATCHLIST_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        require_watchlist_editable(d, None)
        if s.scalar(select(m.Watchlist).where(m.Watchlist.deployment_id == deployment_id)):
            raise Conflict(f"deployment {deployment_id} already has a watchlist")
        w = m.Watchlist(deployment_id=deployment_id, descriptor_model=data.descriptor_model,
                        reference_model=data.reference_model, built_at=None,
                        destroyed_at=None, category_counts={}, created_at=now)
        s.add(w)
        s.flush()
        append_event(s, actor=actor.audit_name, action="watchlist.created",
                     subject_type="watchlist", subject_id=w.id,
                     details={"deployment_id": deployment_id,
                              "descriptor_model": data.descriptor_model,
                              "second_opinion": data.reference_model}, now=now)
    return w


def get_watchlist(p: Platform, actor: Actor,
                  deployment_id: int) -> tuple[m.Watchlist, list[m.WatchlistEntry]]:
    """The watchlist and its entries (staff view; descriptors stay encrypted)."""
    require(actor, Action.WATCHLIST_READ)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        w = watchlist_of(s, deployment_id)
        entries = list(s.scalars(select(m.WatchlistEntry).where(
            m.WatchlistEntry.watchlist_id == w.id).order_by(m.WatchlistEntry.id)))
        return w, entries


def require_allowed_category(p: Platform, category: str) -> None:
    """Refuse (422) an entry's category outside the allowed list (``category_problem``)."""
    problem = category_problem(category, frozenset(p.settings.watchlist_allowed_categories))
    if problem:
        raise InvalidInput("category", problem)


def add_entry(p: Platform, actor: Actor, deployment_id: int,
              data: WatchlistEntryIn) -> m.WatchlistEntry:
    """Add a subject. A built watchlist goes back to unbuilt: it must be rebuilt (and so
    re-checked against the 24-hour rule) after any change."""
    require(actor, Action.WATCHLIST_WRITE)
    require_allowed_category(p, data.category)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        w = watchlist_of(s, deployment_id)
        require_watchlist_editable(d, w)
        _require_matching_descriptors(p, s, w, data)
        entry = m.WatchlistEntry(
            watchlist_id=w.id, subject_ref=data.subject_ref, category=data.category,
            source=data.source, authorised_by=data.authorised_by,
            image_taken_on=data.image_taken_on, expires_on=data.expires_on,
            descriptors_encrypted=encrypt_descriptors(p.fernet, data.descriptors),
            descriptor_count=len(data.descriptors), added_by=actor.audit_name, added_at=now,
            references_encrypted=(None if data.references is None
                                  else encrypt_descriptors(p.fernet, data.references)),
            image_encrypted=encrypt_jpeg_b64(p.fernet, data.image_jpeg_b64))
        s.add(entry)
        w.built_at = None
        s.flush()
        # No subject reference in the audit log: it is permanent, and must hold nothing personal.
        append_event(s, actor=actor.audit_name, action="watchlist.entry_added",
                     subject_type="watchlist", subject_id=w.id,
                     details={"entry_id": entry.id, "category": entry.category}, now=now)
        _recheck_overrides(s, p, actor, d, "an entry was added to the watchlist", now)
    return entry


def _require_matching_descriptors(p: Platform, s: Session, w: m.Watchlist,
                                  data: WatchlistEntryIn) -> None:
    """Every descriptor of a watchlist has one length (its model's): one of another length
    would be matched against nothing a node computes, or crash it. A watchlist that decides
    with a second opinion needs that model's descriptors of every photo too, and one that
    does not takes none (they would be released to nodes that never use them)."""
    if w.reference_model is None and data.references is not None:
        raise InvalidInput("references", "this watchlist decides without a second opinion; "
                           "send no references (or create the watchlist with a "
                           "reference_model)")
    if w.reference_model is not None and data.references is None:
        raise InvalidInput("references", "this watchlist decides with a second opinion "
                           f"({w.reference_model}): send that model's descriptor of each "
                           "photo as references")
    first = s.execute(select(m.WatchlistEntry.descriptors_encrypted,
                             m.WatchlistEntry.references_encrypted).where(
        m.WatchlistEntry.watchlist_id == w.id).order_by(m.WatchlistEntry.id).limit(1)).first()
    if first is None:
        return
    for field, model, stored, given in (
            ("descriptors", w.descriptor_model, first[0], data.descriptors),
            ("references", w.reference_model, first[1], data.references)):
        if stored is None or given is None:
            continue
        expected, length = len(decrypt_descriptors(p.fernet, stored)[0]), len(given[0])
        if length != expected:
            raise InvalidInput(field, f"{field} of this watchlist ({model}) have {expected} "
                               f"numbers; these have {length}: describe the photos with the "
                               "watchlist's model")


def remove_entry(p: Platform, actor: Actor, deployment_id: int, entry_id: int) -> None:
    """Delete a subject and its descriptors."""
    require(actor, Action.WATCHLIST_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        w = watchlist_of(s, deployment_id)
        require_watchlist_editable(d, w)
        entry = s.get(m.WatchlistEntry, entry_id)
        if entry is None or entry.watchlist_id != w.id:
            raise NotFound(f"watchlist entry {entry_id} is not on deployment {deployment_id}'s "
                           "watchlist")
        s.delete(entry)
        w.built_at = None
        append_event(s, actor=actor.audit_name, action="watchlist.entry_removed",
                     subject_type="watchlist", subject_id=w.id,
                     details={"entry_id": entry_id}, now=now)
        _recheck_overrides(s, p, actor, d, "an entry was removed from the watchlist", now)


def build_watchlist(p: Platform, actor: Actor, deployment_id: int) -> m.Watchlist:
    """Freeze the watchlist as built now (the gate requires this within 24 h of start)."""
    require(actor, Action.WATCHLIST_WRITE)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id, lock=True)
        w = watchlist_of(s, deployment_id)
        require_watchlist_editable(d, w)
        count = len(list(s.scalars(select(m.WatchlistEntry.id).where(
            m.WatchlistEntry.watchlist_id == w.id))))
        if count == 0:
            raise Conflict("the watchlist has no entries; add at least one before building it")
        w.built_at = now
        append_event(s, actor=actor.audit_name, action="watchlist.built",
                     subject_type="watchlist", subject_id=w.id,
                     details={"entries": count}, now=now)
        _recheck_overrides(s, p, actor, d, "the watchlist was rebuilt", now)
    return w


def _recheck_overrides(s: Session, p: Platform, actor: Actor, d: m.Deployment, why: str,
                       now: datetime) -> None:
    """After authorisation a changed watchlist is not what the overrides were signed for:
    those covering a failure it changed (the watchlist's own gate; the threshold's, whose
    audited figures depend on its size) lapse, and activation finds the failure anew."""
    if d.status == DeploymentStatus.AUTHORISED.value:
        s.flush()
        overrides.lapse_changed_in(s, p, actor, d, why, now)


def category_counts(p: Platform, deployment_id: int) -> dict[str, int]:
    """Entries by category: the only watchlist figures the public sees."""
    with p.sessions() as s:
        return category_counts_in(s, deployment_id)


def category_counts_in(s: Session, deployment_id: int) -> dict[str, int]:
    """``category_counts`` in the caller's session."""
    w = s.scalar(select(m.Watchlist).where(m.Watchlist.deployment_id == deployment_id))
    if w is None:
        return {}
    if w.destroyed_at is not None:
        return {k: int(v) for k, v in w.category_counts.items()}
    return dict(Counter(s.scalars(select(m.WatchlistEntry.category).where(
        m.WatchlistEntry.watchlist_id == w.id))))


def destroy_watchlist_in(s: Session, actor: Actor, deployment_id: int, now: datetime) -> None:
    """Delete every entry and its descriptors (inside the caller's transaction), keeping
    only counts by category. Alerts keep their category but lose the link to the entry."""
    w = s.scalar(select(m.Watchlist).where(m.Watchlist.deployment_id == deployment_id))
    if w is None or w.destroyed_at is not None:
        return
    counts = Counter(s.scalars(select(m.WatchlistEntry.category).where(
        m.WatchlistEntry.watchlist_id == w.id)))
    photos = len(list(s.scalars(select(m.WatchlistEntry.id).where(
        m.WatchlistEntry.watchlist_id == w.id, m.WatchlistEntry.image_encrypted.is_not(None)))))
    # Whole rows go: descriptors, reference photos and subject references together.
    s.execute(delete(m.WatchlistEntry).where(m.WatchlistEntry.watchlist_id == w.id))
    w.category_counts = dict(counts)
    w.destroyed_at = now
    append_event(s, actor=actor.audit_name, action="watchlist.destroyed",
                 subject_type="watchlist", subject_id=w.id,
                 details={"entries_deleted": sum(counts.values()),
                          "reference_photos_deleted": photos}, now=now)


@dataclass(frozen=True)
class ReleasedEntry:
    entry_id: int
    category: str
    descriptors: list[list[float]]
    #: The second opinion's descriptors (None unless the watchlist has a reference model).
    references: list[list[float]] | None = None


@dataclass(frozen=True)
class ReleasedWatchlist:
    """What an engine node receives: descriptors, no subject references."""

    deployment_id: int
    reference: str
    threshold: float
    descriptor_model: str
    built_at: datetime
    entries: list[ReleasedEntry]
    #: The second opinion the node must decide with (None: the engine alone).
    reference_model: str | None = None


def serves(actor: Actor, deployment_id: int) -> bool:
    """False for a node key and any deployment but the one it was issued for."""
    return actor.role is not Role.NODE or actor.deployment_scope == deployment_id


def require_own_deployment(actor: Actor, deployment_id: int) -> None:
    """A node key serves one deployment (``serves``): every other is answered as a
    deployment that does not exist, in the same words (404), so a key learns nothing about
    the others, not even that they exist."""
    if not serves(actor, deployment_id):
        raise NotFound(f"deployment {deployment_id} does not exist")


def require_node_key(actor: Actor, d: m.Deployment) -> None:
    """Only an engine node's key, and only for its own deployment."""
    require(actor, Action.NODE_RUN)
    require_own_deployment(actor, d.id)


def require_node_access(actor: Actor, d: m.Deployment, now: datetime) -> None:
    """A node may act only for an active deployment within its published window, and only
    its own deployment when the key is scoped."""
    require_node_key(actor, d)
    if d.status != DeploymentStatus.ACTIVE.value:
        raise Conflict(f"deployment {d.reference} is '{d.status}', not 'active': engine nodes "
                       "may only run against an active deployment")
    require_running_window(d.end_at, now)


def release_to_node(p: Platform, actor: Actor, deployment_id: int) -> ReleasedWatchlist:
    """Decrypt the watchlist for an engine node, only while the deployment is active."""
    require(actor, Action.NODE_RUN)
    now = p.clock()
    with p.sessions.begin() as s:
        d = deployment_or_404(s, deployment_id)
        require_node_access(actor, d, now)
        w = watchlist_of(s, deployment_id)
        if w.built_at is None or w.destroyed_at is not None:
            raise Conflict("the watchlist is not built; nothing can be released")
        rows = list(s.scalars(select(m.WatchlistEntry).where(
            m.WatchlistEntry.watchlist_id == w.id).order_by(m.WatchlistEntry.id)))
        entries = [ReleasedEntry(
            r.id, r.category, decrypt_descriptors(p.fernet, r.descriptors_encrypted),
            None if w.reference_model is None or r.references_encrypted is None
            else decrypt_descriptors(p.fernet, r.references_encrypted)) for r in rows]
        append_event(s, actor=actor.audit_name, action="watchlist.released_to_node",
                     subject_type="watchlist", subject_id=w.id,
                     details={"entries": len(entries)}, now=now)
        return ReleasedWatchlist(d.id, d.reference, d.threshold, w.descriptor_model,
                                 w.built_at, entries, w.reference_model)


def entry_in_deployment(s: Session, deployment_id: int, entry_id: int) -> m.WatchlistEntry:
    """The entry if it is on this deployment's watchlist; InvalidInput otherwise."""
    entry = s.get(m.WatchlistEntry, entry_id)
    w = s.scalar(select(m.Watchlist).where(m.Watchlist.deployment_id == deployment_id))
    if entry is None or w is None or entry.watchlist_id != w.id:
        raise InvalidInput("entry_id", f"entry {entry_id} is not on this deployment's watchlist")
    return entry
