"""Answers to the public: when one is due, what counts as one, and what may follow it.

The rules the feedback use cases and the ``answers_on_time`` gate read. No I/O.

- An objection or question must be answered by the *earlier* of ``answer_deadline_days``
  after it was filed and ``answer_lead_hours`` before the deployment starts, so an answer
  always lands while it can still change something. An item filed inside that lead time is
  due at once: the deployment cannot be activated until it is answered.
- An answer to an objection, a complaint or a redress request says what came of it (an
  outcome) and why, in words of substance: "Noted." or "Thank you for your feedback" is
  not an answer.
- The force's response to a council motion, and its answer to each of the motion's points,
  pass the same test of substance (``motion_response_problem``): "Noted." or "n/a" does not
  answer a council either.
- Hiding an item "for abuse" withholds its *text* from the public and nothing else: the item
  still counts as received and still needs its published answer. The reason, published in
  place of the text, must say what makes it abusive (``moderation_problem``).
- The person who wrote the item may reply to the answer once; the reply, or an item left
  unanswered past its deadline, may be escalated to oversight, whose response is published.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from openlfr.governance.records import FeedbackKind


class AnswerOutcome(StrEnum):
    """What came of an objection, complaint or redress request."""

    UPHELD = "upheld"
    PLAN_CHANGED = "plan_changed"
    PARTLY_UPHELD = "partly_upheld"
    NOT_UPHELD = "not_upheld"
    #: For a question: it was answered (there is nothing to uphold).
    ANSWERED = "answered"


#: Kinds whose answer must say whether the point was upheld.
KINDS_NEEDING_OUTCOME = frozenset({FeedbackKind.OBJECTION, FeedbackKind.COMPLAINT,
                                   FeedbackKind.REDRESS_REQUEST})

#: Kinds whose text and answer stay with staff, oversight and the author: a redress
#: request comes from someone alerted or stopped and could identify them (the public sees
#: that one was made, when, and what came of it).
PRIVATE_KINDS = frozenset({FeedbackKind.REDRESS_REQUEST})

#: Kinds the answers_on_time gate holds activation for.
KINDS_DUE_BEFORE_START = frozenset({FeedbackKind.OBJECTION, FeedbackKind.QUESTION})

#: Outcomes meaning the plan itself was changed (the answer links the amendment).
CHANGING_OUTCOMES = frozenset({AnswerOutcome.PLAN_CHANGED})

#: Shortest answer accepted once stock phrases are taken out (a sentence of substance).
MIN_ANSWER_CHARS = 40

#: Phrases that acknowledge without answering. What is left of an answer without them
#: must still say something.
_STOCK_PHRASES = (
    r"noted", r"(many )?thanks?( you)?( very much)?( for)?( your)?"
    r"( feedback| comments?| objection| question| views?| input| message| concerns?)?",
    r"your (comments?|views?|feedback|objection|concerns?) (has|have) been (noted|recorded|"
    r"received|logged|passed on)( and will be considered)?",
    r"we (have )?(noted|received|recorded|logged) (your|this) (comments?|objection|feedback|"
    r"concerns?|views?|question)", r"we will (consider|look into|review) (this|it|your \w+)",
    r"this (has been|was) (passed|forwarded) (on )?to the (relevant )?(team|officers?)",
    r"we value your (views?|feedback|input)", r"acknowledged", r"received",
)
_STOCK = re.compile(r"\b(?:" + "|".join(_STOCK_PHRASES) + r")\b[.!,;:]*", re.IGNORECASE)

#: Shortest reason for withholding an item's text, once labels are taken out: enough to
#: say what in it is abusive ("Threatens a named officer", "Racist slurs at a neighbour").
MIN_MODERATION_REASON_CHARS = 20

#: Words that label a text without saying what is wrong with it, and placeholders. What is
#: left of a moderation reason without them must still say something.
_LABEL_PHRASES = (
    r"n/?a", r"none", r"tbc", r"see above", r"as above", r"per (?:the )?policy",
    r"(?:abus(?:e|ive)|offensive|inappropriate|unacceptable|harmful|rude|spam|profan\w*)"
    r"(?: (?:content|language|words?|text|comments?|remarks?|material))?",
    r"(?:in )?(?:breach(?:es)?|violat\w+|against)(?: of)? (?:the |our )?(?:moderation )?"
    r"(?:policy|policies|rules|terms|guidelines|code of conduct)",
    r"(?:this|the|it|which) (?:item|text|objection|comment|message|post|feedback|question|"
    r"complaint)?", r"(?:is|was|has been|have been|being|been|contains?|containing)",
    r"(?:hidden|removed|moderated|withheld|deleted|blocked)", r"(?:for|because of|due to)",
)
_LABELS = re.compile(r"\b(?:" + "|".join(_LABEL_PHRASES) + r")(?!\w)[.!,;:]*", re.IGNORECASE)


def answer_due_at(kind: FeedbackKind, submitted_at: datetime, start_at: datetime,
                  deadline_days: int, lead_hours: int) -> datetime:
    """When an item filed at ``submitted_at`` must have its public answer. An objection or
    question: the earlier of ``deadline_days`` after filing and ``lead_hours`` before the
    start, never before it was filed (one filed inside the lead time is due at once). Any
    other kind: ``deadline_days`` after filing (a complaint may come after the start)."""
    period_end = submitted_at + timedelta(days=deadline_days)
    if kind not in KINDS_DUE_BEFORE_START:
        return period_end
    return max(min(period_end, start_at - timedelta(hours=lead_hours)), submitted_at)


def substance(text: str) -> str:
    """What an answer says once stock acknowledgements are taken out."""
    return " ".join(_STOCK.sub(" ", text).split())


#: The fewest different words (of two letters or more) that say something: a row of one
#: letter, of dots or of "n/a", however long, says nothing.
MIN_DISTINCT_WORDS = 3


def says_something(text: str | None, min_chars: int = MIN_ANSWER_CHARS) -> bool:
    """The one test of substance for every answer the public reads (to feedback, to an
    escalation, to a council motion and to each of its points) and every reason published
    for a change: at least ``min_chars`` characters besides stock acknowledgements, in at
    least ``MIN_DISTINCT_WORDS`` different words."""
    if text is None:
        return False
    said = substance(text)
    words = {w.casefold() for w in re.findall(r"[^\W\d_]{2,}", said)}
    return len(said) >= min_chars and len(words) >= MIN_DISTINCT_WORDS


def _thin(what: str, min_chars: int) -> str:
    return (f"say {what} and why, in at least {min_chars} characters besides "
            "acknowledgements such as \"Noted.\" or \"Thank you for your feedback\"")


def answer_problem(kind: FeedbackKind, text: str, outcome: AnswerOutcome | None,
                   amendment_given: bool,
                   min_chars: int = MIN_ANSWER_CHARS) -> tuple[str, str] | None:
    """Why an answer cannot be published as given, as (field, message); None when it can."""
    if kind in KINDS_NEEDING_OUTCOME:
        if outcome is None or outcome is AnswerOutcome.ANSWERED:
            return ("outcome", f"an answer to a {kind.value.replace('_', ' ')} says what came "
                    "of it: upheld, plan changed, partly upheld or not upheld")
    elif outcome is None:
        outcome = AnswerOutcome.ANSWERED
    if outcome in CHANGING_OUTCOMES and not amendment_given:
        return ("amendment_id", "a plan change links the amendment that made it; amend the "
                "plan first (its reason is published), then answer with that amendment")
    if not says_something(text, min_chars):
        return ("answer", _thin("what the answer is", min_chars) + "; this answer is "
                "published and sent to the person who wrote")
    return None


def motion_response_problem(points: Sequence[str], response: str | None,
                            point_answers: Sequence[str],
                            min_chars: int = MIN_ANSWER_CHARS) -> tuple[str, str] | None:
    """Why the force's response to a council motion does not answer it, as (field,
    message); None when it does: a response of substance and, where the motion has
    points, an answer of substance to each, in order ("point_answers.N" names the point,
    counted from 0). The motions gate asks the same of responses already stored."""
    if response is None:
        return ("response", "no response has been published")
    if len(point_answers) != len(points):
        return ("point_answers", f"the motion has {len(points)} point(s) and "
                f"{len(point_answers)} answer(s) were given; answer each point, in order")
    if not says_something(response, min_chars):
        return ("response", _thin("what the force will do about the motion", min_chars)
                + "; the response is published")
    for n, (point, answer) in enumerate(zip(points, point_answers, strict=True)):
        if not says_something(answer, min_chars):
            return (f"point_answers.{n}", _thin(f"what the answer to point {n + 1} "
                                               f"(\"{point}\") is", min_chars)
                    + "; \"n/a\" is not an answer to a council")
    return None


def moderation_problem(reason: str,
                       min_chars: int = MIN_MODERATION_REASON_CHARS) -> tuple[str, str] | None:
    """Why ``reason`` cannot withhold an item's text as abusive, as (field, message); None
    when it can. Hiding withholds only the text (the item still counts and still needs
    its answer); the reason is published in its place and must say what makes the text
    abusive, not only that it is ("n/a", "Abusive content" and "Hidden per policy" say
    nothing)."""
    if not says_something(_LABELS.sub(" ", reason), min_chars):
        return ("reason", f"say what makes the text abusive (a threat, a slur, a named "
                f"private person), in at least {min_chars} characters besides labels such "
                "as \"abusive\" or \"inappropriate\"; the reason is published in place of "
                "the text, and the item still needs its published answer")
    return None


def already_moderated(moderated_at: datetime | None, moderated_by: str | None,
                      reason: str | None) -> str | None:
    """Why an item's text cannot be withheld again (None: it can): it was, and the reason
    published then stands. Hiding twice would overwrite the published reason, and who
    gave it, with no trace in public."""
    if moderated_at is None:
        return None
    return (f"its text was already withheld on {moderated_at.isoformat(timespec='minutes')} "
            f"by {moderated_by}, for the published reason: {reason}; that reason stands")


def may_escalate(answered: bool, replied: bool, due_at: datetime, now: datetime) -> str | None:
    """Why an item cannot be escalated to oversight yet (None: it can): after a reply to
    the answer, or once its deadline has passed with no answer."""
    if answered and not replied:
        return ("reply to the answer first (once); a reply, or an item left unanswered past "
                "its deadline, can be escalated")
    if not answered and now <= due_at:
        return (f"it is not yet past its answer deadline ({due_at.isoformat(timespec='minutes')}"
                "); an unanswered item can be escalated once that has passed")
    return None
