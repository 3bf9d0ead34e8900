"""Earlier versions of published answers: an answer to feedback, oversight's response to
an escalation, the force's response to a council motion. Revising one keeps what it said
before, with when and by whom that version was published and when, by whom and why it
was replaced; the public sees the revision and every earlier version, as it sees the
amendments of the frozen record.

One shape (``AnswerVersion``) for the three; each is stored as a JSON list on its row
(``Feedback.answer_history``, ``Feedback.oversight_response_history``,
``CouncilMotion.response_history``), oldest first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from openlfr.governance.errors import InvalidInput


@dataclass(frozen=True)
class AnswerVersion:
    """One earlier version of a published answer."""

    #: What it said (None in what the public sees of an item kept private).
    text: str | None
    published_at: datetime
    #: Who published it (None where not recorded: a motion response from before 0012).
    published_by: str | None
    #: When, by whom and why it was replaced.
    revised_at: datetime
    revised_by: str
    #: Why it was replaced (None, like the text, for an item kept private).
    reason: str | None
    #: What came of it, as that version said (feedback answers), and the amendment it linked.
    outcome: str | None = None
    amendment_id: int | None = None
    #: A motion response's answers to the motion's points, as that version gave them.
    point_answers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "published_at": self.published_at.isoformat(),
                "published_by": self.published_by, "revised_at": self.revised_at.isoformat(),
                "revised_by": self.revised_by, "reason": self.reason, "outcome": self.outcome,
                "amendment_id": self.amendment_id, "point_answers": list(self.point_answers)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerVersion:
        return cls(text=data["text"], published_at=datetime.fromisoformat(data["published_at"]),
                   published_by=data.get("published_by"),
                   revised_at=datetime.fromisoformat(data["revised_at"]),
                   revised_by=data["revised_by"], reason=data["reason"],
                   outcome=data.get("outcome"), amendment_id=data.get("amendment_id"),
                   point_answers=tuple(data.get("point_answers") or ()))


def versions(history: list[Any] | None) -> list[AnswerVersion]:
    """A stored history as versions, oldest first."""
    return [AnswerVersion.from_json(v) for v in history or ()]


def public_versions(history: list[Any] | None, private: bool = False) -> list[AnswerVersion]:
    """The earlier versions as the public sees them: everything, except that an item kept
    private (a redress request) shows only that, when and by whom its answer was revised
    and what came of each version, not the words."""
    return [replace(v, text=None, reason=None) if private else v for v in versions(history)]


def revision_reason(reason: str | None, what: str) -> str:
    """The reason a published ``what`` is revised: required (it is published with the
    earlier version, which stays public)."""
    if reason is None or not reason.strip():
        raise InvalidInput("revision_reason", f"the {what} is published already; say why it "
                           "changes (published with the earlier version, which stays public)")
    return reason.strip()


def with_version(history: list[Any] | None, version: AnswerVersion) -> list[dict[str, Any]]:
    """``history`` with ``version`` appended (a new list, so the JSON column is saved)."""
    return [*(history or ()), version.to_json()]


def audited(version: AnswerVersion, private: bool = False) -> dict[str, Any]:
    """What the audit event of a revision keeps of the version it replaced: its text (or,
    for an answer kept private, only the text's SHA-256: the permanent log never holds
    what the public may not read), outcome, amendment, point answers and publication."""
    data = version.to_json()
    if private:
        text = data.pop("text") or ""
        data["text_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    return data
