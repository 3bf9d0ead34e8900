"""Checks consultation wording for leading questions and one-sided information.

A consultation that asks "Is this something that you think is a good idea, and would
support?" after describing only benefits measures the wording, not opinion. These
checks flag such patterns so a planner can fix them before the consultation opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: (pattern, why it is a problem). Patterns are matched case-insensitively.
_LEADING_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bdo(?:n't| not)? you agree\b", "asks for agreement instead of an opinion"),
    (r"\bwould you (?:support|agree|welcome)\b", "invites support; ask what people think instead"),
    (r"\bgood idea\b", "frames the proposal as a good idea"),
    (r"\b(?:don't|wouldn't|isn't|aren't|won't|shouldn't) (?:you|it|they|we)\b",
     "a negative question presumes the answer"),
    (r"\bhow (?:much|strongly) do you (?:support|agree|like)\b", "presumes support"),
    (r"\b(?:keep|make) (?:you|your family|the community|people) safe(?:r)?\b",
     "states a benefit inside the question"),
    (r"\b(?:obviously|clearly|surely|of course)\b", "tells the reader what to conclude"),
    (r"\bprotect (?:you|your|the community)\b", "states a benefit inside the question"),
)

_RISK_WORDS = re.compile(
    r"\b(risk|risks|false (?:alert|match|positive)|misidentif\w*|privacy|bias|error|harm)\b", re.I
)


@dataclass(frozen=True)
class WordingIssue:
    """One problem found in a piece of consultation text."""

    excerpt: str
    problem: str


def leading_question_issues(question: str) -> list[WordingIssue]:
    """Leading patterns found in one consultation question (empty when it reads neutral)."""
    issues = []
    for pattern, why in _LEADING_PATTERNS:
        match = re.search(pattern, question, re.I)
        if match:
            issues.append(WordingIssue(excerpt=match.group(0), problem=why))
    return issues


def information_sheet_issues(benefits: str, risks: str) -> list[WordingIssue]:
    """Problems with an information sheet: it must set out risks as well as benefits."""
    issues = []
    if not benefits.strip():
        issues.append(WordingIssue("", "the information sheet states no benefits"))
    if len(risks.split()) < 20 or not _RISK_WORDS.search(risks):
        issues.append(WordingIssue(
            risks[:60],
            "the information sheet must describe the risks (false alerts, privacy, bias) in at "
            "least 20 words, not only the benefits",
        ))
    return issues
