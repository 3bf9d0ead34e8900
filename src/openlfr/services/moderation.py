"""Withholding a text for abuse, one rule for every text the public may post (feedback,
collective objections): the reason must say what makes it abusive
(``governance.answers.moderation_problem``), it is published in the text's place with
when and by whom, a text is withheld once (``already_moderated``: the published reason is
never overwritten), and an audit event keeps the reason. Only the words are withheld:
what they belong to still counts."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.answers import already_moderated, moderation_problem
from openlfr.governance.errors import Conflict, InvalidInput
from openlfr.services.platform import Actor


class Moderated(Protocol):
    """A stored text that can be withheld for abuse."""

    id: int
    hidden_for_abuse: bool
    moderation_reason: str | None
    moderated_at: datetime | None
    moderated_by: str | None


def require_reason(reason: str) -> None:
    """Refuse (InvalidInput) a reason that does not say what makes the text abusive."""
    problem = moderation_problem(reason)
    if problem is not None:
        raise InvalidInput(*problem)


def withhold(s: Session, row: Moderated, subject_type: str, what: str, actor: Actor,
             reason: str, now: datetime) -> None:
    """Withhold ``row``'s text in the caller's transaction (``what`` names it in a
    refusal), with the audit event ``{subject_type}.hidden_for_abuse``."""
    again = already_moderated(row.moderated_at, row.moderated_by, row.moderation_reason)
    if again:
        raise Conflict(f"{what}: {again}")
    row.hidden_for_abuse, row.moderation_reason = True, reason
    # The public trace: when and why it was withheld (the text itself is not shown).
    row.moderated_at, row.moderated_by = now, actor.audit_name
    append_event(s, actor=actor.audit_name, action=f"{subject_type}.hidden_for_abuse",
                 subject_type=subject_type, subject_id=row.id, details={"reason": reason},
                 now=now)
