"""Collective and standing objections: residents of an area co-sign an objection (one
signature per e-mail address, double opt-in, no names or addresses published). One filed
while a deployment in the area is open to objections attaches to it; otherwise it stands,
and attaches to the next deployment proposed there. Past the threshold of confirmed
signatures (``collective_objection_threshold``) the deployment cannot be authorised until
the oversight board has held a hearing and published its record (the consultation gate,
``governance.gates``).

Its words are published only once its starter has confirmed their own signature (the
first; nobody else's words go out in their name, nor can anyone co-sign before), and staff
with the power to moderate feedback may withhold them for abuse, as feedback's are
(``governance.answers.moderation_problem``): the reason is published in their place, and
the objection, its signatures and its hearing requirement stay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.areas import Gazetteer, UnknownArea
from openlfr.governance.errors import InvalidInput, NotFound
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.services import moderation
from openlfr.services.notices import (
    CONFIRMATION_RESEND_INTERVAL,
    EmailKind,
    one_mailbox,
    valid_address,
)
from openlfr.services.platform import PUBLIC_ACTOR, Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import CollectiveObjectionIn, FollowIn, HearingIn, ModerationIn
from openlfr.settings import Settings, new_token
from openlfr.storage import models as m

#: A deployment takes objections (a collective one attaches to it) until it is authorised.
OPEN_TO_OBJECTIONS = frozenset({DeploymentStatus.PROPOSED, DeploymentStatus.NOTICE_PUBLISHED})


@dataclass(frozen=True)
class PublicCollective:
    """A collective objection as the public sees it: never who signed; its text None when
    withheld for abuse (``moderation_reason`` says why). Staff get the same shape with the
    text kept, and those not yet published (``published_at`` None)."""

    id: int
    area_code: str
    area_name: str
    text: str | None
    created_at: datetime
    deployment_reference: str | None
    deployment_title: str | None
    signatures: int
    threshold: int
    hearing_held_on: date | None
    hearing_record: str | None
    published_at: datetime | None = None
    hidden_for_abuse: bool = False
    moderation_reason: str | None = None
    moderated_at: datetime | None = None

    @property
    def needs_hearing(self) -> bool:
        return self.signatures >= self.threshold and self.hearing_held_on is None

    @property
    def standing(self) -> bool:
        """Filed where no deployment was open to objections: waits for the next one."""
        return self.deployment_reference is None

    @property
    def signable(self) -> bool:
        """Anyone may co-sign it: once published (its words withheld for abuse or not:
        moderation never stops residents objecting together)."""
        return self.published_at is not None


def _portal() -> ModuleType:
    from openlfr.services import portal  # portal reads deployments, which call this module

    return portal


def _url(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path


def confirm_url(settings: Settings, token: str) -> str:
    return _url(settings, f"/collective/signatures/{token}/confirm")


def _in_area(d: m.Deployment, area_code: str) -> bool:
    """An objection filed in ``area_code`` reaches ``d``: its borough or ward, or any ward
    of a borough it names alone (``Gazetteer.covers``: one rule with motions and notice)."""
    return Gazetteer.covers(area_code, d.borough_code, d.ward_code)


def _open_deployment(s: Session, area_code: str) -> m.Deployment | None:
    """The deployment in the area a new objection attaches to: open to objections, the
    soonest to start."""
    rows = s.scalars(select(m.Deployment).where(
        m.Deployment.status.in_([x.value for x in OPEN_TO_OBJECTIONS])).order_by(
        m.Deployment.start_at))
    return next((d for d in rows if _in_area(d, area_code)), None)


def file_collective(p: Platform, actor: Actor, area: str, data: CollectiveObjectionIn,
                    client: str | None = None) -> m.CollectiveObjection:
    """Start a collective objection in an area (a gazetteer code or name); the person who
    starts it signs it first (a confirmation e-mail goes to their address). It is published,
    and can be co-signed, once they confirm (``confirm_signature``)."""
    require(actor, Action.COLLECTIVE_OBJECT)
    address = one_mailbox(valid_address(data.email))  # one signature a person
    p.rate_limits.hit(Action.COLLECTIVE_OBJECT, client)
    try:
        place = _portal().notice_area(p, area)
    except UnknownArea as exc:
        raise InvalidInput("area", str(exc)) from None
    now = p.clock()
    with p.sessions.begin() as s:
        d = _open_deployment(s, place.code)
        o = m.CollectiveObjection(area_code=place.code, text=data.text, created_at=now,
                                  deployment_id=d.id if d is not None else None,
                                  attached_at=now if d is not None else None)
        s.add(o)
        s.flush()
        append_event(s, actor=PUBLIC_ACTOR.audit_name, action="collective_objection.filed",
                     subject_type="collective_objection", subject_id=o.id,
                     details={"area": place.code,
                              "deployment_id": d.id if d is not None else None}, now=now)
        _signature(s, p.settings, o, address, now, starter=True)
    return o


def sign(p: Platform, actor: Actor, objection_id: int, data: FollowIn,
         client: str | None = None) -> None:
    """Co-sign: a confirmation e-mail goes to the address; the signature counts once its
    link is used. Signing again never reveals whether the address signed before. Only a
    published objection can be co-signed (NotFound before its starter confirms). One whose
    text was withheld for abuse can still be: withholding words must never stop residents
    objecting together (a force could otherwise hold an objection under the threshold by
    moderating it), and its e-mail carries the published reason instead of the words."""
    require(actor, Action.COLLECTIVE_OBJECT)
    address = one_mailbox(valid_address(data.email))  # one signature a person
    p.rate_limits.hit(Action.COLLECTIVE_OBJECT, client)
    now = p.clock()
    try:
        with p.sessions.begin() as s:
            o = s.get(m.CollectiveObjection, objection_id)
            if o is None or o.published_at is None:
                raise NotFound(f"no collective objection {objection_id}")
            _signature(s, p.settings, o, address, now)
    except IntegrityError:  # the same address twice at once: one row won
        pass


def _signature(s: Session, settings: Settings, o: m.CollectiveObjection, address: str,
               now: datetime, starter: bool = False) -> None:
    row = s.scalar(select(m.CollectiveSignature).where(
        m.CollectiveSignature.objection_id == o.id, m.CollectiveSignature.email == address))
    if row is not None and (row.confirmed_at is not None
                            or row.created_at > now - CONFIRMATION_RESEND_INTERVAL):
        return  # signed already, or a confirmation went a moment ago
    if row is None:
        row = m.CollectiveSignature(objection_id=o.id, email=address, token=new_token(),
                                    created_at=now)
        s.add(row)
        s.flush()
    else:
        row.created_at = now
    area = _portal().notice_area_name(settings, o.area_code)
    body = "\n".join([
        f"Someone, hopefully you, asked to sign a collective objection to live facial "
        f"recognition in {area}:", "",
        (f"(Its text was withheld for abuse: {o.moderation_reason})" if o.hidden_for_abuse
         else o.text), "",
        *(["You started it: it is published, and others can sign it, once you confirm.",
           ""] if starter else []),
        "Your signature counts once you confirm it; your name and address are never "
        "published, only how many people signed. One signature per e-mail address.", "",
        "To confirm, open this link and press the button:", confirm_url(settings, row.token),
        "", "If it was not you, ignore this e-mail: nothing is counted unless the link is "
        "used.", ""])
    s.add(m.OutgoingEmail(kind=EmailKind.SIGNATURE_CONFIRMATION.value, to_address=address,
                          subject=f"Confirm your signature: objection to LFR in {area}"[:300],
                          body=body, created_at=now, attempts=0, next_attempt_at=now))


def signature_by_token(p: Platform, token: str) -> m.CollectiveSignature:
    with p.sessions() as s:
        row = s.scalar(select(m.CollectiveSignature).where(
            m.CollectiveSignature.token == token)) if 0 < len(token) <= 64 else None
        if row is None:
            raise NotFound("this link is not valid; it may have been mistyped")
        return row


def confirm_signature(p: Platform, token: str) -> m.CollectiveSignature:
    """Count the signature (the link in the confirmation e-mail). Twice changes nothing.
    The starter's (the objection's first signature) publishes the objection."""
    now = p.clock()
    with p.sessions.begin() as s:
        row = s.scalar(select(m.CollectiveSignature).where(
            m.CollectiveSignature.token == token).with_for_update()) \
            if 0 < len(token) <= 64 else None
        if row is None:
            raise NotFound("this link is not valid; it may have been mistyped")
        if row.confirmed_at is None:
            row.confirmed_at = now
            append_event(s, actor=PUBLIC_ACTOR.audit_name, action="collective_objection.signed",
                         subject_type="collective_objection", subject_id=row.objection_id,
                         details={}, now=now)
            o = s.get(m.CollectiveObjection, row.objection_id, with_for_update=True)
            if o is not None and o.published_at is None and row.id == _starter_id(s, o.id):
                o.published_at = now
                append_event(s, actor=PUBLIC_ACTOR.audit_name,
                             action="collective_objection.published",
                             subject_type="collective_objection", subject_id=o.id,
                             details={"area": o.area_code}, now=now)
    return row


def _starter_id(s: Session, objection_id: int) -> int | None:
    """The starter's signature: the first, made with the objection in one transaction."""
    return s.scalar(select(func.min(m.CollectiveSignature.id)).where(
        m.CollectiveSignature.objection_id == objection_id))


def attach_standing(s: Session, d: m.Deployment, now: datetime) -> int:
    """Attach the standing objections of the deployment's area (its borough or ward, every
    ward of a borough it names alone: ``_in_area``) to it: called when a deployment is
    proposed. Returns how many were attached. (Attaching only shows where an objection
    stands: the gate reads every unheard objection of the area, attached or not,
    ``services.dossier.collective_facts``.)"""
    if d.borough_code is None:  # a legacy free-text area: no gazetteer area covers it
        return 0
    standing = s.scalars(select(m.CollectiveObjection).where(
        m.CollectiveObjection.deployment_id.is_(None),
        m.CollectiveObjection.area_code.startswith(d.borough_code, autoescape=True)))
    rows = [o for o in standing if _in_area(d, o.area_code)]
    for o in rows:
        o.deployment_id, o.attached_at = d.id, now
        append_event(s, actor="system", action="collective_objection.attached",
                     subject_type="collective_objection", subject_id=o.id,
                     details={"deployment_id": d.id}, now=now)
    return len(rows)


def record_hearing(p: Platform, actor: Actor, objection_id: int,
                   data: HearingIn) -> m.CollectiveObjection:
    """Oversight's hearing of a collective objection: when it was held and its record
    (published). Recording again corrects it (the audit log keeps both)."""
    require(actor, Action.COLLECTIVE_HEARING)
    now = p.clock()
    with p.sessions.begin() as s:
        o = s.get(m.CollectiveObjection, objection_id)
        if o is None:
            raise NotFound(f"no collective objection {objection_id}")
        if data.held_on > now.date():
            raise InvalidInput("held_on", "a hearing is recorded once it has been held")
        o.hearing_held_on, o.hearing_record = data.held_on, data.record
        o.hearing_recorded_by, o.hearing_recorded_at = actor.audit_name, now
        append_event(s, actor=actor.audit_name, action="collective_objection.heard",
                     subject_type="collective_objection", subject_id=o.id,
                     details={"held_on": data.held_on.isoformat()}, now=now)
    return o


def hide_collective_text(p: Platform, actor: Actor, objection_id: int,
                         data: ModerationIn) -> PublicCollective:
    """Withhold a collective objection's abusive text from the public, with a reason that
    says what makes it abusive (the rule and the power feedback's moderation uses:
    ``governance.answers.moderation_problem``, ``feedback.moderate``; the reason is
    published in its place). Only the text is withheld: the objection, its signatures, its
    count, its hearing requirement and co-signing stay. Returns it as staff see it."""
    require(actor, Action.FEEDBACK_MODERATE)
    moderation.require_reason(data.reason)
    now = p.clock()
    with p.sessions.begin() as s:
        o = s.get(m.CollectiveObjection, objection_id, with_for_update=True)
        if o is None:
            raise NotFound(f"no collective objection {objection_id}")
        moderation.withhold(s, o, "collective_objection", f"collective objection {o.id}",
                            actor, data.reason, now)
        return _public(s, p, o, staff=True)


def _public(s: Session, p: Platform, o: m.CollectiveObjection,
            staff: bool = False) -> PublicCollective:
    signed = s.scalar(select(func.count()).select_from(m.CollectiveSignature).where(
        m.CollectiveSignature.objection_id == o.id,
        m.CollectiveSignature.confirmed_at.is_not(None))) or 0
    d = s.get(m.Deployment, o.deployment_id) if o.deployment_id is not None else None
    hidden = bool(o.hidden_for_abuse)
    return PublicCollective(
        id=o.id, area_code=o.area_code,
        area_name=_portal().notice_area_name(p.settings, o.area_code),
        text=o.text if staff or not hidden else None,
        created_at=o.created_at, deployment_reference=d.reference if d is not None else None,
        deployment_title=d.title if d is not None else None, signatures=int(signed),
        threshold=p.settings.collective_objection_threshold,
        hearing_held_on=o.hearing_held_on, hearing_record=o.hearing_record,
        published_at=o.published_at, hidden_for_abuse=hidden,
        moderation_reason=o.moderation_reason if hidden else None,
        moderated_at=o.moderated_at if hidden else None)


def collective_in_area(p: Platform, area_code: str) -> list[PublicCollective]:
    """Collective objections published in an area (newest first)."""
    with p.sessions() as s:
        rows = s.scalars(select(m.CollectiveObjection).where(
            m.CollectiveObjection.area_code == area_code,
            m.CollectiveObjection.published_at.is_not(None)).order_by(
            m.CollectiveObjection.id.desc()))
        return [_public(s, p, o) for o in rows]


def collective_for_deployment(s: Session, p: Platform, deployment_id: int
                              ) -> list[PublicCollective]:
    """The published collective objections attached to a deployment (oldest first)."""
    rows = s.scalars(select(m.CollectiveObjection).where(
        m.CollectiveObjection.deployment_id == deployment_id,
        m.CollectiveObjection.published_at.is_not(None)).order_by(
        m.CollectiveObjection.id))
    return [_public(s, p, o) for o in rows]


def collective_objections(p: Platform, actor: Actor) -> list[PublicCollective]:
    """Every collective objection, those needing a hearing first (staff): with their text
    (withheld or not) and those awaiting their starter's confirmation."""
    require(actor, Action.FEEDBACK_READ)
    with p.sessions() as s:
        found = [_public(s, p, o, staff=True)
                 for o in s.scalars(select(m.CollectiveObjection).order_by(
            m.CollectiveObjection.id))]
    return sorted(found, key=lambda c: (not c.needs_hearing, c.id))

