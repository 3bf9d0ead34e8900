"""Use cases that give objections and questions teeth once they are filed: the author's
private link (reply once to the answer, escalate to oversight), following an item by
e-mail (double opt-in), oversight's published response to an escalation, and the e-mails
that tell the author and the followers what happened.

Filing and answering stay in ``services.consultations`` (they call ``queue_item_emails``
here); the rules (deadlines, what counts as an answer, when an item may be escalated)
live in ``governance.answers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.answers import PRIVATE_KINDS, AnswerOutcome, may_escalate
from openlfr.governance.errors import Conflict, InvalidInput, NotFound
from openlfr.governance.records import FeedbackKind
from openlfr.services.answer_history import AnswerVersion, audited, revision_reason, with_version
from openlfr.services.common import get_or_404
from openlfr.services.notices import CONFIRMATION_RESEND_INTERVAL, EmailKind, valid_address, when
from openlfr.services.platform import PUBLIC_ACTOR, Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.services.schemas import FollowIn, OversightResponseIn, ReplyIn
from openlfr.settings import Settings, new_token
from openlfr.storage import models as m

#: What each kind is called in e-mails.
_KIND_WORDS = {"objection": "objection", "question": "question", "support": "message of support",
               "complaint": "complaint", "redress_request": "request for redress"}

#: Why an e-mail about an item is sent, with its subject's opening words.
_EVENTS = {
    "answered": "Answered",
    "answer_revised": "Answer corrected",
    "replied": "The author replied",
    "escalated": "Escalated to oversight",
    "oversight_responded": "Oversight responded",
}


# --- links --------------------------------------------------------------------------------

def _url(settings: Settings, path: str) -> str:
    return settings.public_url.rstrip("/") + path


def author_url(settings: Settings, f: m.Feedback) -> str:
    """The author's private page for an item: reply once, escalate."""
    return _url(settings, f"/feedback/{f.id}/yours/{f.author_token}")


def follow_url(settings: Settings, d: m.Deployment, f: m.Feedback) -> str:
    """Where anyone can ask to follow an item."""
    return _url(settings, f"/deployments/{d.reference}/follow?item={f.id}")


def follow_confirm_url(settings: Settings, token: str) -> str:
    return _url(settings, f"/feedback/follows/{token}/confirm")


def unfollow_url(settings: Settings, token: str) -> str:
    return _url(settings, f"/feedback/follows/{token}/unfollow")


def item_url(settings: Settings, d: m.Deployment, f: m.Feedback) -> str:
    return _url(settings, f"/deployments/{d.reference}#feedback-{f.id}")


def author_address(contact: str | None) -> str | None:
    """The author's e-mail address when the contact details they left are one (a phone
    number gets no e-mail)."""
    if not contact:
        return None
    try:
        return valid_address(contact)
    except InvalidInput:
        return None


# --- e-mails ------------------------------------------------------------------------------

def _outgoing(kind: EmailKind, to: str, subject: str, body: str,
              now: datetime) -> m.OutgoingEmail:
    return m.OutgoingEmail(kind=kind.value, to_address=to, subject=" ".join(subject.split())[:300],
                           body=body, created_at=now, attempts=0, next_attempt_at=now)


def _item_text(settings: Settings, d: m.Deployment, f: m.Feedback, event: str) -> list[str]:
    """What happened to an item, as the lines of an e-mail (the public record, no more)."""
    kind = _KIND_WORDS.get(f.kind, f.kind)
    lines = [f"{_EVENTS[event]}: the {kind} of {when(f.submitted_at)} about "
             f"\"{d.title}\" ({d.reference}).", ""]
    if f.answer is not None and f.answered_at is not None:
        lines += [f"Answer published {when(f.answered_at)}"
                  + (f", outcome: {AnswerOutcome(f.outcome).value.replace('_', ' ')}"
                     if f.outcome else "") + ":", f.answer, ""]
        if f.amendment_id is not None:
            lines += [f"The plan was changed: amendment {f.amendment_id}, published on the "
                      "deployment's page.", ""]
    if f.reply is not None and f.replied_at is not None:
        lines += [f"The author's reply ({when(f.replied_at)}):", f.reply, ""]
    if f.escalated_at is not None:
        lines += [f"Escalated to oversight {when(f.escalated_at)}.", ""]
    if f.oversight_response is not None and f.oversight_responded_at is not None:
        lines += [f"Oversight's response ({when(f.oversight_responded_at)}):",
                  f.oversight_response, ""]
    lines += [f"On the deployment's page: {item_url(settings, d, f)}", ""]
    return lines


def queue_item_emails(s: Session, settings: Settings, f: m.Feedback, event: str,
                      now: datetime) -> int:
    """Tell the author (when they left an e-mail address) and every confirmed follower
    what happened to an item, in the transaction that made it happen. Returns how many
    e-mails were queued."""
    d = s.get(m.Deployment, f.deployment_id)
    assert d is not None
    subject = f"{_EVENTS[event]}: your {_KIND_WORDS.get(f.kind, f.kind)} about {d.title}"
    text = _item_text(settings, d, f, event)
    queued = 0
    author = author_address(f.contact)
    if author is not None:
        own = [*text, "Your private link (do not share it): reply once to the answer, or "
               "escalate to oversight if it does not answer you:", author_url(settings, f), ""]
        s.add(_outgoing(EmailKind.FEEDBACK_UPDATE, author, subject, "\n".join(own), now))
        queued += 1
    if FeedbackKind(f.kind) in PRIVATE_KINDS:
        return queued  # its answer is the author's alone: no follower is told anything
    followers = s.scalars(select(m.FeedbackFollow).where(
        m.FeedbackFollow.feedback_id == f.id, m.FeedbackFollow.confirmed_at.is_not(None),
        m.FeedbackFollow.unsubscribed_at.is_(None)))
    for follow in followers:
        if follow.email == author:
            continue
        body = [*text, "You follow this item. To stop, open:", unfollow_url(settings, follow.token)]
        s.add(_outgoing(EmailKind.FEEDBACK_UPDATE, follow.email,
                        f"{_EVENTS[event]}: {_KIND_WORDS.get(f.kind, f.kind)} about {d.title}",
                        "\n".join(body), now))
        queued += 1
    return queued


# --- following ------------------------------------------------------------------------------

def _public_item(s: Session, feedback_id: int) -> m.Feedback:
    """An item anyone may follow: published, its text shown, and not private (a request
    for redress is answered to its author alone, so nobody else can follow it)."""
    f = s.get(m.Feedback, feedback_id)
    d = s.get(m.Deployment, f.deployment_id) if f is not None else None
    if (f is None or d is None or d.notice_published_at is None or f.hidden_for_abuse
            or FeedbackKind(f.kind) in PRIVATE_KINDS):
        raise NotFound(f"no published feedback {feedback_id} that can be followed")
    return f


def follow(p: Platform, actor: Actor, feedback_id: int, data: FollowIn,
           client: str | None = None) -> None:
    """Ask to be told by e-mail when an item is answered, replied to, escalated or
    responded to by oversight. A confirmation e-mail goes to the address; nothing else
    until its link is used. Asking again never reveals whether the address already
    follows."""
    require(actor, Action.FEEDBACK_FOLLOW)
    address = valid_address(data.email)
    p.rate_limits.hit(Action.FEEDBACK_FOLLOW, client)
    try:
        _follow(p, feedback_id, address)
    except IntegrityError:  # the same address twice at once: one row won
        _follow(p, feedback_id, address)


def _follow(p: Platform, feedback_id: int, address: str) -> None:
    now = p.clock()
    with p.sessions.begin() as s:
        f = _public_item(s, feedback_id)
        row = s.scalar(select(m.FeedbackFollow).where(
            m.FeedbackFollow.feedback_id == f.id, m.FeedbackFollow.email == address)
            .with_for_update())
        if row is None:
            row = m.FeedbackFollow(feedback_id=f.id, email=address, token=new_token(),
                                   created_at=now)
            s.add(row)
            s.flush()
            append_event(s, actor=PUBLIC_ACTOR.audit_name, action="feedback.follow_requested",
                         subject_type="feedback", subject_id=f.id, details={}, now=now)
        elif row.unsubscribed_at is not None:
            row.unsubscribed_at = row.confirmed_at = None
        elif row.created_at > now - CONFIRMATION_RESEND_INTERVAL and row.confirmed_at is None:
            return  # a confirmation went a moment ago: no mailbox flooding
        if row.confirmed_at is None:
            d = s.get(m.Deployment, f.deployment_id)
            assert d is not None
            kind = _KIND_WORDS.get(f.kind, f.kind)
            body = "\n".join([
                f"Someone, hopefully you, asked to follow the {kind} of {when(f.submitted_at)} "
                f"about \"{d.title}\" ({d.reference}): an e-mail when it is answered, when its "
                "author replies or escalates it, and when oversight responds.", "",
                "To confirm, open this link and press the button:",
                follow_confirm_url(p.settings, row.token), "",
                "If it was not you, ignore this e-mail: nothing more is sent unless the link "
                "is used.", ""])
            s.add(_outgoing(EmailKind.FOLLOW_CONFIRMATION, address,
                            f"Confirm: follow a {kind} about {d.title}", body, now))


def _follow_by_token(s: Session, token: str) -> m.FeedbackFollow:
    row = None
    if 0 < len(token) <= 64:
        row = s.scalar(select(m.FeedbackFollow).where(m.FeedbackFollow.token == token)
                       .with_for_update())
    if row is None:
        raise NotFound("this link is not valid; it may have been mistyped")
    return row


def follow_by_token(p: Platform, token: str) -> m.FeedbackFollow:
    """The follow a link's token names (NotFound for an unknown token)."""
    with p.sessions() as s:
        row = None
        if 0 < len(token) <= 64:
            row = s.scalar(select(m.FeedbackFollow).where(m.FeedbackFollow.token == token))
        if row is None:
            raise NotFound("this link is not valid; it may have been mistyped")
        return row


def confirm_follow(p: Platform, token: str) -> m.FeedbackFollow:
    """Confirm the address (the link in the confirmation e-mail). Twice changes nothing."""
    now = p.clock()
    with p.sessions.begin() as s:
        row = _follow_by_token(s, token)
        if row.unsubscribed_at is not None:
            raise Conflict("you stopped following this item; follow it again from its page")
        if row.confirmed_at is None:
            row.confirmed_at = now
            append_event(s, actor=PUBLIC_ACTOR.audit_name, action="feedback.follow_confirmed",
                         subject_type="feedback", subject_id=row.feedback_id, details={},
                         now=now)
    return row


def unfollow(p: Platform, token: str) -> m.FeedbackFollow:
    """Stop following (the link in every e-mail). Twice changes nothing."""
    now = p.clock()
    with p.sessions.begin() as s:
        row = _follow_by_token(s, token)
        if row.unsubscribed_at is None:
            row.unsubscribed_at = now
            append_event(s, actor=PUBLIC_ACTOR.audit_name, action="feedback.unfollowed",
                         subject_type="feedback", subject_id=row.feedback_id, details={},
                         now=now)
    return row


# --- the author's reply and escalation ----------------------------------------------------------

@dataclass(frozen=True)
class AuthorView:
    """What the author's private page shows: their item (text included, even a redress
    request's), its deployment, and what they may do next."""

    feedback: m.Feedback
    deployment: m.Deployment
    may_reply: bool
    escalation_refusal: str | None


def _by_author_token(s: Session, feedback_id: int, token: str, *,
                     lock: bool = False) -> m.Feedback:
    f = s.get(m.Feedback, feedback_id, with_for_update=lock or None)
    if f is None or not f.author_token or not 8 <= len(token) <= 64 or token != f.author_token:
        raise NotFound("this link is not valid; use the private link you were given when you "
                       "wrote, or that came with the answer")
    return f


def author_view(p: Platform, actor: Actor, feedback_id: int, token: str) -> AuthorView:
    require(actor, Action.FEEDBACK_REPLY)
    now = p.clock()
    with p.sessions() as s:
        f = _by_author_token(s, feedback_id, token)
        d = s.get(m.Deployment, f.deployment_id)
        assert d is not None
        refusal = (f"it was escalated on {when(f.escalated_at)}" if f.escalated_at is not None
                   else may_escalate(f.answered_at is not None, f.reply is not None,
                                     f.answer_due_at, now))
        return AuthorView(f, d, f.answered_at is not None and f.reply is None, refusal)


def reply(p: Platform, actor: Actor, feedback_id: int, token: str, data: ReplyIn) -> m.Feedback:
    """The author's one reply to the answer (published with it; followers are told)."""
    require(actor, Action.FEEDBACK_REPLY)
    now = p.clock()
    with p.sessions.begin() as s:
        f = _by_author_token(s, feedback_id, token, lock=True)
        if f.answered_at is None:
            raise Conflict("there is no answer to reply to yet")
        if f.reply is not None:
            raise Conflict("you have replied once already; if the answer still does not answer "
                           "you, escalate to oversight")
        f.reply, f.replied_at = data.text, now
        append_event(s, actor=PUBLIC_ACTOR.audit_name, action="feedback.replied",
                     subject_type="feedback", subject_id=f.id, details={}, now=now)
        queue_item_emails(s, p.settings, f, "replied", now)
    return f


def escalate(p: Platform, actor: Actor, feedback_id: int, token: str,
             data: ReplyIn) -> m.Feedback:
    """The author asks oversight to look at their item: after their reply to the answer,
    or once it is past its deadline with no answer. Oversight's response is published."""
    require(actor, Action.FEEDBACK_REPLY)
    now = p.clock()
    with p.sessions.begin() as s:
        f = _by_author_token(s, feedback_id, token, lock=True)
        if f.escalated_at is not None:
            raise Conflict(f"it was escalated already, on {when(f.escalated_at)}")
        refusal = may_escalate(f.answered_at is not None, f.reply is not None, f.answer_due_at,
                               now)
        if refusal:
            raise Conflict(f"this cannot be escalated yet: {refusal}")
        f.escalated_at, f.escalation = now, data.text
        append_event(s, actor=PUBLIC_ACTOR.audit_name, action="feedback.escalated",
                     subject_type="feedback", subject_id=f.id,
                     details={"answered": f.answered_at is not None}, now=now)
        queue_item_emails(s, p.settings, f, "escalated", now)
    return f


def escalations(p: Platform, actor: Actor) -> list[tuple[m.Feedback, m.Deployment]]:
    """Escalated items, those awaiting oversight's response first, oldest first."""
    require(actor, Action.FEEDBACK_READ)
    with p.sessions() as s:
        rows = s.execute(select(m.Feedback, m.Deployment).join(
            m.Deployment, m.Feedback.deployment_id == m.Deployment.id).where(
            m.Feedback.escalated_at.is_not(None)).order_by(
            m.Feedback.oversight_responded_at.is_not(None), m.Feedback.escalated_at))
        return [(f, d) for f, d in rows]


def respond_to_escalation(p: Platform, actor: Actor, feedback_id: int,
                          data: OversightResponseIn) -> m.Feedback:
    """Oversight's response to an escalated item: published with it, and sent to the
    author and followers. Responding again revises it, with a reason
    (``revision_reason``): the earlier version stays published with it
    (``oversight_response_history``) and its text goes into the audit event."""
    require(actor, Action.ESCALATION_RESPOND)
    now = p.clock()
    with p.sessions.begin() as s:
        f = get_or_404(s, m.Feedback, feedback_id, "feedback")
        if f.escalated_at is None:
            raise Conflict("this item has not been escalated to oversight")
        first = f.oversight_responded_at is None or f.oversight_response is None
        details: dict[str, Any] = {}
        if not first:
            assert f.oversight_response is not None and f.oversight_responded_at is not None
            earlier = AnswerVersion(
                text=f.oversight_response, published_at=f.oversight_responded_at,
                published_by=f.oversight_responded_by, revised_at=now,
                revised_by=actor.audit_name,
                reason=revision_reason(data.revision_reason, "response"))
            f.oversight_response_history = with_version(f.oversight_response_history, earlier)
            details = {"reason": earlier.reason,
                       "previous": audited(earlier, FeedbackKind(f.kind) in PRIVATE_KINDS)}
        f.oversight_response, f.oversight_responded_at = data.response, now
        f.oversight_responded_by = actor.audit_name
        append_event(s, actor=actor.audit_name,
                     action="feedback.oversight_responded" if first
                     else "feedback.oversight_response_revised",
                     subject_type="feedback", subject_id=f.id, details=details, now=now)
        queue_item_emails(s, p.settings, f, "oversight_responded", now)
    return f
