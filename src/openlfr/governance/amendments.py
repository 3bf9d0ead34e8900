"""A record that cannot be rewritten: from authorisation on, a deployment's plan, impact
assessment, engagement log and consultation are frozen. A change after that is a public
amendment (a new version with a reason, shown with its history); the gates are checked
again on the amended record, and when a gate's answer changes (or a failing gate fails
otherwise: the threshold lowered on an engine never audited) the deployment needs
authorising again.

A plan amendment that widens what the public was told (``widens_notice``: a rewritten
purpose, an offence category added, more cameras, a lower threshold) also restarts the
notice: the notice period runs again from the amendment, as after a reschedule, and an
authorised deployment goes back to be authorised again on the amended plan. A running
deployment is not amended so: it is completed first (``running_change_refusal``).
A narrowing change (fewer cameras, a higher threshold, a category removed, a clearer
title) is published and announced but restarts nothing.

Also here: when an engagement event may have happened. It must lie between the
deployment's first draft (less a window for engagement that led to it) and the moment of
authorisation, and never in the future: engagement claimed afterwards did not inform the
decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from openlfr.governance.errors import Conflict
from openlfr.governance.gates import GateReport
from openlfr.governance.lifecycle import DeploymentStatus

_S = DeploymentStatus


class Record(StrEnum):
    """The parts of a deployment's record that freeze at authorisation."""

    PLAN = "plan"
    ASSESSMENT = "assessment"
    ENGAGEMENT = "engagement"
    CONSULTATION = "consultation"


#: Statuses in which the record is frozen: it changes only by a public amendment.
FROZEN_STATUSES = frozenset({_S.AUTHORISED, _S.ACTIVE, _S.COMPLETED, _S.REVIEWED})
#: Statuses in which the plan may be amended (it is fixed once notice is public).
PLAN_AMENDABLE_STATUSES = FROZEN_STATUSES | {_S.NOTICE_PUBLISHED}
#: Statuses in which a changed gate answer sends the deployment back to notice_published,
#: to be authorised again. A deployment that has run keeps its status; the amendment and
#: its gate changes are published and the review regenerated.
REAUTHORISE_FROM = frozenset({_S.AUTHORISED})
#: Statuses in which an amendment may not change a gate's answer nor widen the plan: the
#: deployment is running on the decision they made (``running_change_refusal``).
RUNNING = frozenset({_S.ACTIVE})
#: Statuses in which a plan amendment that widens what the public was told restarts the
#: notice (and, from ``REAUTHORISE_FROM``, withdraws the authorisation): a deployment
#: not yet run. One that has started can never be given its notice again in its window.
RESTART_NOTICE_FROM = frozenset({_S.NOTICE_PUBLISHED, _S.AUTHORISED})

_WORDS = {Record.PLAN: "plan", Record.ASSESSMENT: "impact assessment",
          Record.ENGAGEMENT: "engagement log", Record.CONSULTATION: "consultation"}


def changes_decision(record: Record, gates_moved: bool, widened: bool) -> bool:
    """Whether an amendment changes what the deployment was authorised on: a gate's
    answer, or (the plan) what the public was told."""
    return gates_moved or (record is Record.PLAN and widened)


def running_change_refusal(status: DeploymentStatus, record: Record, gates_moved: list[str],
                           widened: list[str]) -> str | None:
    """Why an amendment may not be made now (None: it may). A running deployment runs on
    its decision: an amendment that would change a gate's answer (``gates_moved``) or widen
    its plan (``widened``, in words) would stop it, and stopping is for those who may
    complete it (operator, authoriser), not for whoever amends. It is completed first and
    the amendment then published with its record: never sent back to notice, which took
    from the record what it ran under (the decisions, the override it went ahead on) and
    refused what its node still had to deliver."""
    if status not in RUNNING or not changes_decision(record, bool(gates_moved),
                                                     bool(widened)):
        return None
    what = [*widened, *(f"the {g.replace('_', ' ')} check's answer changes"
                        for g in gates_moved)]
    return (f"this amendment would stop the running deployment ({'; '.join(what)}); an "
            "operator or authoriser completes it first, and the amendment is then published "
            "with the completed deployment's record")


def status_after(status: DeploymentStatus, record: Record, gates_moved: bool,
                 widened: bool) -> DeploymentStatus:
    """Where an amendment leaves a deployment in ``status``: a changed gate answer, or a
    plan widened past its notice, withdraws an authorisation not yet used (back to
    ``notice_published``, to be authorised again on the amended record); anything else
    leaves the status as it was (a running deployment is not amended so:
    ``running_change_refusal``)."""
    if changes_decision(record, gates_moved, widened) and status in REAUTHORISE_FROM:
        return _S.NOTICE_PUBLISHED
    return status


def record_words(record: Record) -> str:
    return _WORDS[record]


def is_frozen(status: DeploymentStatus, first_authorised_at: datetime | None = None) -> bool:
    """Whether the record changes only by amendment: from authorisation on, and for good
    once the deployment has ever been authorised (``first_authorised_at``), even where an
    amendment or a reschedule withdrew that authorisation since: the public saw the
    record it was authorised on, so every later change must show as an amendment."""
    return status in FROZEN_STATUSES or (first_authorised_at is not None
                                         and status is not _S.CANCELLED)


def require_open(status: DeploymentStatus, record: Record, authorised_at: datetime | None,
                 first_authorised_at: datetime | None = None) -> None:
    """Refuse a plain edit of a frozen (or cancelled) record, saying what to do instead."""
    what = record_words(record)
    if status is _S.CANCELLED:
        raise Conflict(f"the deployment is cancelled; its {what} can no longer change")
    if is_frozen(status, first_authorised_at):
        when = authorised_at or first_authorised_at
        since = f" on {when:%Y-%m-%d %H:%M} UTC" if when else ""
        again = (" (that authorisation has since been withdrawn; the record stays as it "
                 "was authorised on)" if status not in FROZEN_STATUSES else "")
        raise Conflict(
            f"the {what} is frozen: the deployment was authorised{since}{again} and is now "
            f"'{status.value}'; a change now is a public amendment with a published reason "
            "(POST /api/deployments/{id}/amendments), after which the gates are checked "
            "again")


def require_amendable(status: DeploymentStatus, record: Record,
                      first_authorised_at: datetime | None = None) -> None:
    """An amendment is for a frozen record (``is_frozen``); before that, the record is
    simply edited."""
    allowed = PLAN_AMENDABLE_STATUSES if record is Record.PLAN else FROZEN_STATUSES
    if status not in allowed and not is_frozen(status, first_authorised_at):
        if status is _S.CANCELLED:
            raise Conflict("the deployment is cancelled; its record can no longer change")
        raise Conflict(f"the {record_words(record)} is not frozen while the deployment is "
                       f"'{status.value}': edit it directly; amendments are for the record "
                       "after authorisation")
    if record is Record.CONSULTATION:
        raise Conflict("the consultation cannot be amended: people answered it as it was. "
                       "If it was flawed, say so in an amendment of the impact assessment, or "
                       "cancel the deployment and consult again")


@dataclass(frozen=True)
class GateChange:
    """A gate whose answer an amendment changed: it passes where it failed, fails where it
    passed, or fails otherwise than it did (``failure_changed``: the key of its failure,
    ``governance.failures``, is another, so an override signed for it no longer covers
    it)."""

    name: str
    passed_before: bool
    passed_after: bool
    failure_changed: bool = False


def gate_changes(before: GateReport, after: GateReport) -> list[GateChange]:
    """The gates whose answer differs between two reports (same clock): pass/fail, or a
    failure whose key changed."""
    was = {g.name: g for g in before.results}
    changes = []
    for g in after.results:
        old = was.get(g.name)
        if old is None:
            continue
        if old.passed != g.passed:
            changes.append(GateChange(g.name, old.passed, g.passed))
        elif not g.passed and g.failure_key != old.failure_key:
            changes.append(GateChange(g.name, False, False, failure_changed=True))
    return changes


# --- what a plan amendment tells the public ------------------------------------------------

def _prose(text: Any) -> str:
    return " ".join(str(text).split()).casefold()


def _category_set(categories: Any) -> set[str]:
    """Offence categories as compared: case, spacing and ``_`` do not make one new."""
    return {_prose(str(c).replace("_", " ")) for c in categories}


#: For each plan field that bounds what the public was told, when a new value (second
#: argument) goes further than the old (first). Any rewording of the purpose counts: no
#: rule can tell that prose says less.
_WIDER: dict[str, Callable[[Any, Any], bool]] = {
    "purpose": lambda old, new: _prose(new) != _prose(old),
    "offence_categories": lambda old, new: bool(_category_set(new) - _category_set(old)),
    "threshold": lambda old, new: float(new) < float(old),
    "camera_count": lambda old, new: int(new) > int(old),
}


def widens_notice(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The plan fields in which ``after`` goes further than ``before`` (the plan as the
    public was told it), in the plan's order: the purpose reworded, an offence category
    added, a lower match threshold (more people flagged), more cameras. Every other
    change (the title, the signage, a narrowing of these) does not widen the notice.
    Only fields present in both mappings are compared."""
    return [field for field, wider in _WIDER.items()
            if field in before and field in after and wider(before[field], after[field])]


def restarts_notice(status: DeploymentStatus, widened: Sequence[str]) -> bool:
    """Whether a plan amendment that widened ``widened`` restarts the notice of a
    deployment in ``status`` (``RESTART_NOTICE_FROM``)."""
    return bool(widened) and status in RESTART_NOTICE_FROM


_FIELD_WORDS = {"camera_count": "cameras", "threshold": "match threshold",
                "technology_id": "engine setup (technology register entry)"}


def field_words(field: str) -> str:
    """A field of the record as people read it (``camera_count``: "cameras"; ``event
    12``: "engagement event 12")."""
    if field.startswith("event "):
        return f"engagement {field}"
    return _FIELD_WORDS.get(field, field.replace("_", " "))


def value_words(value: Any) -> str:
    """A value of the record as people read it: lists joined, thresholds to two places,
    an engagement event as one line (``event_words``)."""
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return event_words(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def event_words(event: Mapping[str, Any]) -> str:
    """An engagement event (as an amendment records it) in one line: when, how, whom."""
    def words(key: str) -> str:
        return str(event.get(key) or "").replace("_", " ")
    line = f"{words('held_on')}, {words('format')} with {words('met_with')}"
    line += f" ({words('audience')}), {event.get('attendees', 0)} people"
    if event.get("materials"):
        line += f"; materials: {event['materials']}"
    return line


def widening_words(field: str, before: Any, after: Any) -> str:
    """Why a change of ``field`` widens what the public was told, in a phrase."""
    if field == "purpose":
        return "the purpose was rewritten"
    if field == "offence_categories":
        was = _category_set(before)
        added = [str(c) for c in after if _category_set([c]).isdisjoint(was)]
        return f"offence categories added: {', '.join(added)}"
    if field == "camera_count":
        return f"more cameras: {value_words(after)}, was {value_words(before)}"
    if field == "threshold":
        return (f"a lower match threshold, which flags more people: {value_words(after)}, "
                f"was {value_words(before)}")
    return f"{field_words(field)} changed"


#: In a plan amendment's published changes: the entry recording that the notice restarted
#: (``before``/``after``: the notice's publication time, ISO), and the key under which a
#: change that widened the notice says why (``widening_words``).
NOTICE_RESTART_FIELD = "notice_published_at"
WIDENS_KEY = "widens_notice"


def notice_restart_change(before: datetime | None, at: datetime) -> dict[str, Any]:
    """The published change entry of a notice restarted at ``at``."""
    return {"field": NOTICE_RESTART_FIELD,
            "before": None if before is None else before.isoformat(), "after": at.isoformat()}


def notice_restarted(changes: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an amendment with these published changes restarted the notice."""
    return any(c.get("field") == NOTICE_RESTART_FIELD for c in changes)


def widened_by(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why an amendment with these published changes widened what the public was told,
    a phrase per field (empty: it did not)."""
    return [str(c[WIDENS_KEY]) for c in changes if c.get(WIDENS_KEY)]


def plan_changes(changes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The changes of the record itself (the notice restart left out)."""
    return [c for c in changes if c.get("field") != NOTICE_RESTART_FIELD]


def engagement_date_problem(held_on: date, drafted_at: datetime,
                            authorised_at: datetime | None, now: datetime,
                            window_days: int) -> str | None:
    """Why an engagement event cannot be dated ``held_on`` (None when it can)."""
    earliest = (drafted_at - timedelta(days=window_days)).date()
    if held_on > now.date():
        return (f"{held_on.isoformat()} is in the future; log an event once it has been "
                "held")
    if authorised_at is not None and held_on > authorised_at.date():
        return (f"{held_on.isoformat()} is after the deployment was authorised on "
                f"{authorised_at.date().isoformat()}; engagement after the decision did not "
                "inform it")
    if held_on < earliest:
        return (f"{held_on.isoformat()} is more than {window_days} days before the "
                f"deployment was first drafted ({drafted_at.date().isoformat()}); the earliest "
                f"date accepted is {earliest.isoformat()}")
    return None


def already_redacted(redacted_at: datetime | None, redacted_by: str | None,
                     reason: str | None) -> str | None:
    """Why an event's PDF cannot be replaced by a redacted copy (None: it can): it was
    already, and that redaction stands. A second copy would swap the published document,
    and the published reason, under the same label; what is left is to remove it."""
    if redacted_at is None:
        return None
    return (f"its PDF was already replaced by a redacted copy on "
            f"{redacted_at.isoformat(timespec='minutes')} by {redacted_by}, for the "
            f"published reason: {reason}; a PDF is redacted once, and that copy can now "
            "only be removed (send the reason without a file)")
