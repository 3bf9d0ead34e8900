"""Who may do what: the one table of powers.

Every action a person, an engine node or the public can take, reads included, is listed
here with the roles that may take it. The use cases check this table (``require``) before
anything else; the API's dependencies and the staff pages read the same table (``may``) to
decide what to answer and what to offer. No role list is written anywhere else.

Where a power is limited further by what it is about (a councillor acts only for the
areas they were given, a node key only for its deployment), the use case checks that too;
the table says which roles may try at all.

``openlfr powers`` prints the table (the README's copy is generated from it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from openlfr.governance.areas import Area
from openlfr.services.platform import PERSON_ROLES, Actor, PermissionDenied, Role


class Action(StrEnum):
    """Everything that can be done, named ``thing.verb``."""

    # open to anyone, logged in or not
    PUBLIC_READ = "public.read"
    FEEDBACK_SUBMIT = "feedback.submit"
    CONSULTATION_ANSWER = "consultation.answer"
    NOTICE_SUBSCRIBE = "notice.subscribe"
    FEEDBACK_FOLLOW = "feedback.follow"
    FEEDBACK_REPLY = "feedback.reply"
    COLLECTIVE_OBJECT = "collective_objection.sign"
    LOG_IN = "session.log_in"
    # a person's own session
    SESSION_USE = "session.use"
    # deployments
    DEPLOYMENT_READ = "deployment.read"
    DEPLOYMENT_DRAFT = "deployment.draft"
    DEPLOYMENT_EDIT = "deployment.edit"
    DEPLOYMENT_PROPOSE = "deployment.propose"
    DEPLOYMENT_PUBLISH_NOTICE = "deployment.publish_notice"
    DEPLOYMENT_AUTHORISE = "deployment.authorise"
    DEPLOYMENT_ACTIVATE = "deployment.activate"
    DEPLOYMENT_COMPLETE = "deployment.complete"
    DEPLOYMENT_REVIEW = "deployment.review"
    DEPLOYMENT_CANCEL = "deployment.cancel"
    DEPLOYMENT_RESCHEDULE = "deployment.reschedule"
    OVERRIDE_REQUEST = "override.request"
    OVERRIDE_COUNTERSIGN = "override.countersign"
    RECORD_AMEND = "record.amend"
    COMMENT_RECORD = "comment.record"
    # governance records
    ASSESSMENT_READ = "assessment.read"
    ASSESSMENT_WRITE = "assessment.write"
    ASSESSMENT_PUBLISH = "assessment.publish"
    ENGAGEMENT_READ = "engagement.read"
    ENGAGEMENT_WRITE = "engagement.write"
    CONSULTATION_READ = "consultation.read"
    CONSULTATION_WRITE = "consultation.write"
    CONSULTATION_COUNTERSIGN = "consultation.countersign_wording"
    FEEDBACK_READ = "feedback.read"
    FEEDBACK_CONTACT_READ = "feedback.read_contact"
    FEEDBACK_ANSWER = "feedback.answer"
    FEEDBACK_MODERATE = "feedback.moderate"
    ESCALATION_RESPOND = "feedback.respond_to_escalation"
    COLLECTIVE_HEARING = "collective_objection.hear"
    MOTION_READ = "motion.read"
    MOTION_RECORD = "motion.record"
    MOTION_RESPOND = "motion.respond"
    # technology and audits
    TECHNOLOGY_READ = "technology.read"
    TECHNOLOGY_REGISTER = "technology.register"
    EQUITY_AUDIT_RECORD = "equity_audit.record"
    AUDIT_LOG_READ = "audit_log.read"
    SETTINGS_READ = "settings.read"
    # watchlists, alerts, the console
    WATCHLIST_READ = "watchlist.read"
    WATCHLIST_WRITE = "watchlist.write"
    FIGURES_READ = "figures.read"
    ALERT_READ = "alert.read"
    ALERT_PHOTO_READ = "alert.read_photos"
    ALERT_DECIDE = "alert.decide"
    LATER_OUTCOME_RECORD = "alert.record_later_outcome"
    CONSOLE_WATCH = "console.watch"
    NODE_RUN = "node.run"
    # accounts
    USERS_MANAGE = "users.manage"
    MAILBOX_READ = "mailbox.read"
    API_KEYS_MANAGE = "api_keys.manage"
    NODE_KEY_ISSUE = "api_keys.issue_node"
    NODE_KEY_CONFIRM = "api_keys.confirm_node"
    INDEPENDENT_ACCOUNTS_MANAGE = "independent_accounts.manage"
    ACCOUNT_CHANGE_COUNTERSIGN = "account_change.countersign"
    AUDIT_KEYS_MANAGE = "audit_keys.manage"


@dataclass(frozen=True)
class Power:
    """One row of the table: an action, who may take it, and what it is in words."""

    action: Action
    roles: frozenset[Role]
    what: str


_R = Role
#: Anyone at all: the public, every person, engine nodes.
EVERYONE = frozenset(Role)
#: Every logged-in person, whatever their role.
STAFF = frozenset(PERSON_ROLES)


def _table(*rows: tuple[Action, Iterable[Role], str]) -> dict[Action, Power]:
    table = {action: Power(action, frozenset(roles), what) for action, roles, what in rows}
    missing = set(Action) - set(table)
    if missing:  # every action must have a row: a new action without one fails at import
        raise RuntimeError(f"no power for: {', '.join(sorted(missing))}")
    return table


POWERS: dict[Action, Power] = _table(
    (Action.PUBLIC_READ, EVERYONE, "read what is published: deployments, gates, records, "
     "answers, figures, motions, the technology register, the areas"),
    (Action.FEEDBACK_SUBMIT, EVERYONE, "object, ask, support, complain or ask for redress"),
    (Action.CONSULTATION_ANSWER, EVERYONE, "answer an open consultation anonymously"),
    (Action.NOTICE_SUBSCRIBE, EVERYONE, "subscribe to e-mail notice for an area"),
    (Action.FEEDBACK_FOLLOW, EVERYONE, "follow an objection or question by e-mail "
     "(double opt-in)"),
    (Action.FEEDBACK_REPLY, EVERYONE, "reply once to the answer, or escalate to oversight "
     "(the author, by their private link)"),
    (Action.COLLECTIVE_OBJECT, EVERYONE, "start or co-sign a collective objection in an area "
     "(one signature per e-mail address, double opt-in)"),
    (Action.LOG_IN, EVERYONE, "log in"),
    (Action.SESSION_USE, STAFF, "see who one is logged in as, change one's own "
     "password, log out"),
    (Action.DEPLOYMENT_READ, STAFF, "read deployments (drafts included), their overrides, "
     "amendments and comments"),
    (Action.DEPLOYMENT_DRAFT, (_R.PLANNER,), "draft a deployment"),
    (Action.DEPLOYMENT_EDIT, (_R.PLANNER,), "change the plan before notice is published"),
    (Action.DEPLOYMENT_PROPOSE, (_R.PLANNER,), "propose a deployment"),
    (Action.DEPLOYMENT_PUBLISH_NOTICE, (_R.PLANNER, _R.AUTHORISER), "publish notice"),
    (Action.DEPLOYMENT_AUTHORISE, (_R.AUTHORISER,), "authorise (every gate passing)"),
    (Action.DEPLOYMENT_ACTIVATE, (_R.OPERATOR, _R.AUTHORISER),
     "activate inside the published window (gates checked again)"),
    (Action.DEPLOYMENT_COMPLETE, (_R.OPERATOR, _R.AUTHORISER), "complete a deployment"),
    (Action.DEPLOYMENT_REVIEW, (_R.OVERSIGHT, _R.AUTHORISER), "record the review"),
    (Action.DEPLOYMENT_CANCEL, (_R.PLANNER, _R.AUTHORISER), "cancel with a published reason"),
    (Action.DEPLOYMENT_RESCHEDULE, (_R.PLANNER, _R.AUTHORISER),
     "change published dates with a published reason"),
    (Action.OVERRIDE_REQUEST, (_R.AUTHORISER,),
     "ask to go ahead despite failing gates, with a justification"),
    (Action.OVERRIDE_COUNTERSIGN, (_R.OVERSIGHT,),
     "countersign an override another person asked for, with a justification"),
    (Action.RECORD_AMEND, (_R.PLANNER,),
     "amend the frozen record (plan, assessment, engagement) with a published reason"),
    (Action.COMMENT_RECORD, (_R.OVERSIGHT, _R.COUNCILLOR),
     "record a formal comment (councillors: in their areas)"),
    (Action.ASSESSMENT_READ, STAFF, "read the impact assessment, drafts included"),
    (Action.ASSESSMENT_WRITE, (_R.PLANNER,), "write the impact assessment before authorisation"),
    (Action.ASSESSMENT_PUBLISH, (_R.PLANNER, _R.AUTHORISER), "publish the impact assessment"),
    (Action.ENGAGEMENT_READ, STAFF, "read the engagement log"),
    (Action.ENGAGEMENT_WRITE, (_R.PLANNER,),
     "log, correct or remove engagement events before authorisation; attach evidence"),
    (Action.CONSULTATION_READ, STAFF, "read the consultation, drafts and results included"),
    (Action.CONSULTATION_WRITE, (_R.PLANNER,),
     "write, check, open and close the consultation; keep flagged wording with a reason"),
    (Action.CONSULTATION_COUNTERSIGN, (_R.OVERSIGHT,),
     "countersign a reason for keeping flagged consultation wording (needed to open it)"),
    (Action.FEEDBACK_READ, STAFF, "read feedback with its deadlines (without contact details)"),
    (Action.FEEDBACK_CONTACT_READ, (_R.PLANNER, _R.AUTHORISER),
     "see feedback contact details (to reply)"),
    (Action.FEEDBACK_ANSWER, (_R.PLANNER, _R.AUTHORISER), "publish an answer to feedback"),
    (Action.FEEDBACK_MODERATE, (_R.PLANNER, _R.AUTHORISER), "hide feedback for abuse"),
    (Action.ESCALATION_RESPOND, (_R.OVERSIGHT,),
     "publish oversight's response to feedback escalated to it"),
    (Action.COLLECTIVE_HEARING, (_R.OVERSIGHT,),
     "record the hearing of a collective objection past the threshold (published)"),
    (Action.MOTION_READ, STAFF, "read council motions"),
    (Action.MOTION_RECORD, (_R.OVERSIGHT, _R.COUNCILLOR),
     "record or correct a council motion (councillors: for their areas)"),
    (Action.MOTION_RESPOND, (_R.PLANNER, _R.AUTHORISER),
     "publish the force's response to a motion, point by point"),
    (Action.TECHNOLOGY_READ, STAFF | {_R.AUDIT_TOOL},
     "read the technology register and equity audits"),
    (Action.TECHNOLOGY_REGISTER, (_R.ADMIN, _R.OVERSIGHT),
     "add or correct a technology register entry"),
    (Action.EQUITY_AUDIT_RECORD, (_R.OVERSIGHT, _R.AUDIT_TOOL),
     "record an equity audit (the threshold gate holds deployments to it)"),
    (Action.AUDIT_LOG_READ, (_R.ADMIN, _R.OVERSIGHT), "read and verify the audit log"),
    (Action.SETTINGS_READ, (_R.ADMIN, _R.OVERSIGHT),
     "read the settings in force (secrets shown only as set or not set)"),
    (Action.WATCHLIST_READ, (_R.PLANNER, _R.AUTHORISER, _R.OPERATOR),
     "read a watchlist with subject references and reference photos"),
    (Action.WATCHLIST_WRITE, (_R.PLANNER,), "build a watchlist"),
    (Action.FIGURES_READ, STAFF, "read a deployment's figures before they are published"),
    (Action.ALERT_READ, (_R.OPERATOR, _R.AUTHORISER, _R.OVERSIGHT), "read alerts"),
    (Action.ALERT_PHOTO_READ, (_R.OPERATOR, _R.AUTHORISER),
     "see an alert's probe crop and reference photo"),
    (Action.ALERT_DECIDE, (_R.OPERATOR,), "adjudicate alerts and record outcomes"),
    (Action.LATER_OUTCOME_RECORD, (_R.OPERATOR, _R.AUTHORISER),
     "record what followed an arrest (charged, cautioned, released, no further action) "
     "within the window"),
    (Action.CONSOLE_WATCH, (_R.OPERATOR, _R.AUTHORISER), "watch the operator console"),
    (Action.NODE_RUN, (_R.NODE,), "run an engine node for an active deployment"),
    (Action.USERS_MANAGE, (_R.ADMIN,), "ask to add people, change roles, reset passwords "
     "or reactivate (each waits for oversight's countersignature); deactivate at once "
     "(oversight members and councillors excepted: see the next rows)"),
    (Action.ACCOUNT_CHANGE_COUNTERSIGN, (_R.OVERSIGHT,),
     "countersign or refuse a change to an account that an admin, or another member of "
     "oversight, asked for: nobody makes a login or a power alone"),
    (Action.INDEPENDENT_ACCOUNTS_MANAGE, (_R.OVERSIGHT,),
     "ask to add oversight members and councillors, change their roles and areas, reset "
     "their passwords or reactivate them (each waits for another member's "
     "countersignature); deactivate them at once"),
    (Action.MAILBOX_READ, (_R.ADMIN,), "read the demo's mailbox (only when it is on)"),
    (Action.API_KEYS_MANAGE, (_R.ADMIN, _R.OPERATOR, _R.AUTHORISER),
     "see engine nodes' API keys and when each was last used; revoke a node's key (an "
     "admin: any key)"),
    (Action.NODE_KEY_ISSUE, (_R.AUTHORISER,),
     "issue an engine node's key for one deployment (not an admin: a node key reads the "
     "deployment's watchlist, which an admin may not; not an operator: a node key sends "
     "the alerts an operator judges); it works once an operator confirms it"),
    (Action.NODE_KEY_CONFIRM, (_R.OPERATOR,),
     "confirm a node key an authoriser issued (it is the one in the van): no one person "
     "alone holds a working key, which sends the counts the published figures are made of"),
    (Action.AUDIT_KEYS_MANAGE, (_R.OVERSIGHT,),
     "issue and revoke the keys of audit tools (openlfr evaluate --register)"),
)


def roles_for(action: Action) -> frozenset[Role]:
    """The roles that may take ``action``."""
    return POWERS[action].roles


def may(role: Role, action: Action) -> bool:
    """True when ``role`` may take ``action`` (scope, such as a councillor's areas, is
    checked by the use case)."""
    return role in POWERS[action].roles


def require(actor: Actor, action: Action) -> None:
    """Refuse (PermissionDenied) unless the actor's role may take ``action``."""
    if not may(actor.role, action):
        raise PermissionDenied(refusal(actor.role, action))


def refusal(role: Role, action: Action) -> str:
    """The message for a role that may not take ``action``: what it is and who may."""
    power = POWERS[action]
    allowed = ", ".join(r.value for r in ordered(power.roles))
    return f"{power.what} needs one of these roles: {allowed}; you are '{role.value}'"


def ordered(roles: Iterable[Role]) -> list[Role]:
    """Roles in the table's column order."""
    return [r for r in Role if r in set(roles)]


def require_area(actor: Actor, areas: Iterable[Area], doing: str) -> None:
    """A councillor acts only for the areas they were given: every one of ``areas`` must
    be one of theirs or a ward of one of theirs. Other roles are not limited by area."""
    if actor.role is not Role.COUNCILLOR:
        return
    mine = set(actor.areas)
    places = list(areas)
    outside = [a.code for a in places if a.code not in mine and a.borough_code not in mine]
    if outside or not mine or not places:
        raise PermissionDenied(
            f"{doing}: a councillor acts only for their own areas "
            f"({', '.join(sorted(mine)) or 'none given'}); this concerns "
            f"{', '.join(sorted(outside)) or 'no area of theirs'}")


def powers_markdown() -> str:
    """The table as Markdown: one row per action, one column per role."""
    roles = list(Role)
    lines = ["| action | what | " + " | ".join(r.value for r in roles) + " |",
             "| --- | --- | " + " | ".join("---" for _ in roles) + " |"]
    for power in POWERS.values():
        marks = " | ".join("yes" if r in power.roles else "" for r in roles)
        lines.append(f"| `{power.action.value}` | {power.what} | {marks} |")
    return "\n".join(lines)
