"""E-mail notice per area: subscriptions (double opt-in, one-click unsubscribe) and the
notice e-mails that publishing, rescheduling, amending the plan of, or cancelling a
deployment puts in the outbox.

The e-mails are rows in ``outgoing_emails``, written in the same transaction as the
change they announce, so a notice is never lost when the mail server is down;
``services.mailer`` sends them. One e-mail per confirmed subscriber whose area covers
the deployment (a borough's subscribers hear of its wards; a ward's only of that ward),
never one e-mail with many recipients. A deployment that went ahead despite failed
checks (a countersigned override) is announced too. Areas are the gazetteer's codes.
Addresses are never shown, logged or audited: audit events name the subscription by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openlfr import localtime
from openlfr.audit import append_event
from openlfr.governance.amendments import (
    Record,
    field_words,
    notice_restarted,
    plan_changes,
    record_words,
    value_words,
    widened_by,
)
from openlfr.governance.areas import UnknownArea
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.governance.lifecycle import DeploymentStatus, Transition
from openlfr.services.platform import PUBLIC_ACTOR, SYSTEM_ACTOR, Platform
from openlfr.services.powers import Action
from openlfr.settings import Settings, new_token
from openlfr.storage import models as m

#: The plain-text e-mail templates live with the portal's page templates.
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"

#: A confirmation is sent again for the same subscription at most this often, so a
#: stranger cannot fill someone's mailbox by submitting their address repeatedly.
CONFIRMATION_RESEND_INTERVAL = timedelta(minutes=5)

#: Longest subject line the outbox holds.
MAX_SUBJECT_CHARS = 300


class EmailKind(StrEnum):
    """What an outgoing e-mail is about."""

    CONFIRMATION = "confirmation"
    NOTICE_PUBLISHED = "notice_published"
    RESCHEDULED = "rescheduled"
    #: The frozen record (plan, impact assessment, engagement log) was amended after
    #: notice: what changed, why; for the plan, whether the notice restarted.
    AMENDED = "amended"
    CANCELLED = "cancelled"
    #: Authorised or activated despite failed checks (a countersigned override).
    OVERRIDDEN = "overridden"
    #: Asking to follow a piece of feedback (double opt-in).
    FOLLOW_CONFIRMATION = "follow_confirmation"
    #: A piece of feedback was answered, replied to, escalated or responded to by
    #: oversight (to its author and followers).
    FEEDBACK_UPDATE = "feedback_update"
    #: Confirming a signature of a collective objection (double opt-in).
    SIGNATURE_CONFIRMATION = "signature_confirmation"


#: Lifecycle actions the public is told about by e-mail (rescheduling has its own use case).
ANNOUNCED_TRANSITIONS = {
    Transition.PUBLISH_NOTICE: EmailKind.NOTICE_PUBLISHED,
    Transition.CANCEL: EmailKind.CANCELLED,
}


# --- links (the paths of the portal's pages; a test follows every link in an e-mail) ----

def _url(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path


def confirm_url(settings: Settings, token: str) -> str:
    return _url(settings, f"/subscriptions/{token}/confirm")


def unsubscribe_url(settings: Settings, token: str) -> str:
    return _url(settings, f"/subscriptions/{token}/unsubscribe")


# --- areas (services.portal reads deployments, whose transitions call this module) -----

def _portal() -> ModuleType:
    from openlfr.services import portal

    return portal


# --- addresses -----------------------------------------------------------------------------

def valid_address(text: str) -> str:
    """The address in normal form, or InvalidInput("email") saying what is wrong. Only the
    syntax is checked (no DNS look-up): the confirmation e-mail proves the rest."""
    try:
        return str(validate_email(text.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidInput("email", f"{exc}; give an address such as name@example.org") \
            from None


def one_mailbox(address: str) -> str:
    """An address as one mailbox, for counting people rather than spellings: lower case,
    and a ``+tag`` in the local part dropped (``Mallory+2@Example.org`` and
    ``mallory@example.org`` are one person's inbox). Used where a count must mean people
    (a collective objection's signatures); mail goes to this address too, which reaches
    the same inbox."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}"


# --- subscriptions ---------------------------------------------------------------------------

def subscribe(p: Platform, email: str, area_code: str, client: str | None = None) -> None:
    """Ask for e-mail notice of deployments in an area (a gazetteer code). A confirmation
    e-mail with a link goes to the address; nothing else is sent until the link is used.
    Subscribing again sends the confirmation again (at most every few minutes) and
    changes nothing else, so the answer never reveals whether the address was already
    subscribed. ``client`` (its address) is rate limited (services.rate_limits)."""
    address = valid_address(email)
    p.rate_limits.hit(Action.NOTICE_SUBSCRIBE, client)
    try:
        area = _portal().notice_area(p, area_code)
    except UnknownArea as exc:
        raise InvalidInput("area", str(exc)) from None
    try:
        _subscribe(p, address, area.code, area.name)
    except IntegrityError:  # the same address and area sent twice at once: one row won
        _subscribe(p, address, area.code, area.name)


def _subscribe(p: Platform, address: str, area_code: str, area: str) -> None:
    now = p.clock()
    with p.sessions.begin() as s:
        sub = s.scalar(select(m.NoticeSubscription).where(
            m.NoticeSubscription.email == address,
            m.NoticeSubscription.area_code == area_code).with_for_update())
        requested = False
        if sub is None:
            sub = m.NoticeSubscription(email=address, area_code=area_code, token=new_token(),
                                       created_at=now)
            s.add(sub)
            s.flush()
            requested = True
        elif sub.unsubscribed_at is not None:
            # Back after unsubscribing: the address must be confirmed again.
            sub.unsubscribed_at = sub.confirmed_at = None
            requested = True
        if requested:
            append_event(s, actor=PUBLIC_ACTOR.audit_name, action="subscription.requested",
                         subject_type="notice_subscription", subject_id=sub.id,
                         details={"area": area_code}, now=now)
        if not _confirmation_sent_since(s, sub.id, now - CONFIRMATION_RESEND_INTERVAL):
            s.add(_confirmation_email(p.settings, sub, area, now))


def _confirmation_sent_since(s: Session, subscription_id: int, since: datetime) -> bool:
    return s.scalar(select(m.OutgoingEmail.id).where(
        m.OutgoingEmail.subscription_id == subscription_id,
        m.OutgoingEmail.kind == EmailKind.CONFIRMATION.value,
        m.OutgoingEmail.created_at > since).limit(1)) is not None


def subscription_by_token(p: Platform, token: str) -> m.NoticeSubscription:
    """The subscription a link's token names (NotFound for an unknown token)."""
    with p.sessions() as s:
        return _by_token(s, token)


def _by_token(s: Session, token: str, *, lock: bool = False) -> m.NoticeSubscription:
    sub = None
    if 0 < len(token) <= 64:
        query = select(m.NoticeSubscription).where(m.NoticeSubscription.token == token)
        sub = s.scalar(query.with_for_update() if lock else query)
    if sub is None:
        raise NotFound("this subscription link is not valid; it may have been mistyped, or "
                       "the subscription was never confirmed and has been removed")
    return sub


def confirm_subscription(p: Platform, token: str) -> m.NoticeSubscription:
    """Confirm the address (the link in the confirmation e-mail); from now on notices for
    the area are sent to it. Confirming twice changes nothing."""
    now = p.clock()
    with p.sessions.begin() as s:
        sub = _by_token(s, token, lock=True)
        if sub.unsubscribed_at is not None:
            raise Conflict("this subscription was cancelled; to get notice again, subscribe "
                           "again from the area's page")
        if sub.confirmed_at is None:
            sub.confirmed_at = now
            append_event(s, actor=PUBLIC_ACTOR.audit_name, action="subscription.confirmed",
                         subject_type="notice_subscription", subject_id=sub.id,
                         details={"area": sub.area_code}, now=now)
    return sub


def unsubscribe(p: Platform, token: str) -> m.NoticeSubscription:
    """End a subscription (the link in every e-mail). E-mails for it that are still waiting
    in the outbox are dropped. Unsubscribing twice changes nothing."""
    now = p.clock()
    with p.sessions.begin() as s:
        sub = _by_token(s, token, lock=True)
        if sub.unsubscribed_at is None:
            sub.unsubscribed_at = now
            s.execute(delete(m.OutgoingEmail).where(
                m.OutgoingEmail.subscription_id == sub.id, m.OutgoingEmail.sent_at.is_(None)))
            append_event(s, actor=PUBLIC_ACTOR.audit_name, action="subscription.ended",
                         subject_type="notice_subscription", subject_id=sub.id,
                         details={"area": sub.area_code}, now=now)
    return sub


def purge_stale_subscriptions(s: Session, before: datetime, now: datetime) -> int:
    """Delete subscriptions never confirmed, or ended, before ``before`` (with any e-mail
    still kept for them): an address nobody confirmed may not be its owner's. One audit
    event naming the subscription ids. Called by the retention sweep."""
    ids = list(s.scalars(select(m.NoticeSubscription.id).where(
        (m.NoticeSubscription.unsubscribed_at < before)
        | (m.NoticeSubscription.confirmed_at.is_(None)
           & (m.NoticeSubscription.created_at < before)))))
    if ids:
        s.execute(delete(m.OutgoingEmail).where(m.OutgoingEmail.subscription_id.in_(ids)))
        s.execute(delete(m.NoticeSubscription).where(m.NoticeSubscription.id.in_(ids)))
        append_event(s, actor=SYSTEM_ACTOR.audit_name, action="subscription.deleted",
                     subject_type="notice_subscriptions", subject_id="retention",
                     details={"subscription_ids": ids,
                              "reason": "unconfirmed or ended before the retention period"},
                     now=now)
    return len(ids)


# --- notice e-mails ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DateChange:
    """The dates a deployment was published with before it was rescheduled, and why."""

    start_at: datetime
    end_at: datetime
    reason: str


@dataclass(frozen=True)
class RecordAmended:
    """An amendment as the e-mail tells it: which record (in words), each change as (what,
    before, after) in words, the published reason, why it widened what the public was
    told (empty: it did not), whether the notice restarted, whether an authorisation was
    withdrawn."""

    record: str
    changes: list[tuple[str, str, str]]
    reason: str
    widened: list[str]
    notice_restarted: bool
    authorisation_withdrawn: bool

    @classmethod
    def of(cls, a: m.Amendment) -> RecordAmended:
        return cls(
            record=record_words(Record(a.record)),
            changes=[(field_words(str(c["field"])), value_words(c["before"]),
                      value_words(c["after"])) for c in plan_changes(a.changes)],
            reason=a.reason, widened=widened_by(a.changes),
            notice_restarted=notice_restarted(a.changes),
            authorisation_withdrawn=a.status_after != a.status_before)


def announce_transition(s: Session, settings: Settings, d: m.Deployment, action: Transition,
                        now: datetime) -> int:
    """Queue the e-mails a lifecycle action owes the area's subscribers, in the caller's
    transaction: notice published, or a cancellation of a deployment the public had been
    told about. Other actions send nothing. Returns how many were queued."""
    kind = ANNOUNCED_TRANSITIONS.get(action)
    if kind is None or d.notice_published_at is None:
        return 0
    return queue_deployment_notices(s, settings, d, kind, now)


def queue_deployment_notices(s: Session, settings: Settings, d: m.Deployment, kind: EmailKind,
                             now: datetime, *, change: DateChange | None = None,
                             override: m.GateOverride | None = None,
                             amendment: m.Amendment | None = None) -> int:
    """Write one e-mail per confirmed subscriber whose area covers ``d`` into the outbox
    (caller's transaction): ``change`` for a reschedule, ``override`` for a deployment
    going ahead despite failed checks, ``amendment`` for an amendment of the frozen
    record. Returns how many."""
    portal = _portal()
    borough = portal.deployment_areas(d)[0].code
    # The borough's subscribers and its wards' (a deployment naming no ward may be in any
    # of them), kept where the area hears of the deployment (``portal.reaches``: one rule
    # with the feeds and the area pages).
    candidates = s.scalars(select(m.NoticeSubscription).where(
        m.NoticeSubscription.area_code.startswith(borough, autoescape=True),
        m.NoticeSubscription.confirmed_at.is_not(None),
        m.NoticeSubscription.unsubscribed_at.is_(None)).order_by(m.NoticeSubscription.id))
    subscribers = [sub for sub in candidates if portal.reaches(d, sub.area_code)]
    amended = None if amendment is None else RecordAmended.of(amendment)
    queued = 0
    for sub in subscribers:
        subject, body = _notice_text(settings, d, kind, sub, change, override, amended)
        s.add(_outgoing(kind, sub, subject, body, now))
        queued += 1
    return queued


def _outgoing(kind: EmailKind, sub: m.NoticeSubscription, subject: str, body: str,
              now: datetime) -> m.OutgoingEmail:
    return m.OutgoingEmail(kind=kind.value, to_address=sub.email, subject=_one_line(subject),
                           body=body, created_at=now, attempts=0, next_attempt_at=now,
                           subscription_id=sub.id)


def _one_line(text: str) -> str:
    """A header value: no line breaks (they would start a new header), bounded length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_SUBJECT_CHARS else flat[:MAX_SUBJECT_CHARS - 1] + "…"


# --- e-mail text ----------------------------------------------------------------------------------

def when(moment: datetime) -> str:
    """A time as people read it, as the portal's pages write it (London first, then UTC:
    ``openlfr.localtime``)."""
    return localtime.when(moment)


_emails = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=False,
                      undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True)
_emails.filters.update(when=when, words=lambda code: code.replace("_", " "))


def _render(template: str, **context: Any) -> str:
    return _emails.get_template(template).render(**context)


_HEADLINES = {
    EmailKind.NOTICE_PUBLISHED: "Notice of live facial recognition",
    EmailKind.RESCHEDULED: "New dates for live facial recognition",
    EmailKind.AMENDED: "Plan changed: live facial recognition",
    EmailKind.CANCELLED: "Cancelled: live facial recognition",
    EmailKind.OVERRIDDEN: "Going ahead despite failed checks: live facial recognition",
}

#: The headline of a plan amendment that restarted the notice.
_RESTARTED_HEADLINE = "Plan widened, notice restarted: live facial recognition"


def _notice_text(settings: Settings, d: m.Deployment, kind: EmailKind,
                 sub: m.NoticeSubscription, change: DateChange | None,
                 override: m.GateOverride | None,
                 amended: RecordAmended | None = None) -> tuple[str, str]:
    areas = _portal().deployment_areas(d)  # the borough, then the ward if it names one
    where = areas[-1].name
    headline = _HEADLINES[kind]
    if amended is not None:
        headline = (_RESTARTED_HEADLINE if amended.notice_restarted
                    else f"{amended.record.capitalize()} changed: live facial recognition")
    subject = f"{headline} in {where}: {d.title}, from {when(d.start_at)}"
    deployment_path = f"/deployments/{d.reference}"
    body = _render(
        "email_notice.txt", kind=kind.value, headline=headline, d=d, where=where,
        sites=[site.name for site in d.sites], status=DeploymentStatus(d.status).value,
        change=change, subscribed_area={a.code: a.name for a in areas}.get(sub.area_code)
        or _portal().notice_area_name(settings, sub.area_code),  # a ward of its borough
        override=override, amended=amended,
        deployment_url=_url(settings, deployment_path),
        feedback_url=_url(settings, f"{deployment_path}/feedback"),
        ical_url=_url(settings, f"/areas/{sub.area_code}/deployments.ics"),
        atom_url=_url(settings, f"/areas/{sub.area_code}/deployments.atom"),
        unsubscribe_url=unsubscribe_url(settings, sub.token))
    return subject, body


def _confirmation_email(settings: Settings, sub: m.NoticeSubscription, area: str,
                        now: datetime) -> m.OutgoingEmail:
    body = _render("email_confirm.txt", area=area, confirm_url=confirm_url(settings, sub.token),
                   unsubscribe_url=unsubscribe_url(settings, sub.token),
                   home_url=_url(settings, "/"))
    return _outgoing(EmailKind.CONFIRMATION, sub,
                     f"Confirm e-mail notice of live facial recognition in {area}", body, now)


def pending_count(s: Session) -> int:
    """E-mails not sent yet (due now or waiting for a retry)."""
    return int(s.scalar(select(func.count()).select_from(m.OutgoingEmail).where(
        m.OutgoingEmail.sent_at.is_(None))) or 0)
