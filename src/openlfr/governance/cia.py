"""Community impact assessment: derived sections and the completeness check.

Sections that can be derived from records (engagement summary, consultation findings)
are written from the data so they cannot be typed to taste. The completeness check
flags sections that are missing or thin, e.g. an area profile that never mentions
residents.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from openlfr.governance.records import (
    RESIDENT_FACING_AUDIENCES,
    CiaFacts,
    ConsultationFacts,
    ConsultationStatus,
    EngagementEventFacts,
    FeedbackFacts,
    FeedbackKind,
    resident_share,
)

#: Typed sections, in the order they appear in the document.
TYPED_SECTIONS = ("area_profile", "risks", "mitigations", "equality_impact", "decision")
#: Sections written from the records.
DERIVED_SECTIONS = ("engagement_summary", "consultation_findings")

MIN_SECTION_WORDS = 30
MIN_DECISION_WORDS = 10

_PROTECTED_CHARACTERISTICS = {
    "age": r"\bage(?:d|s)?\b|\bolder\b|\byoung",
    "disability": r"\bdisab",
    "race": r"\brac(?:e|ial)\b|\bethnic",
    "religion or belief": r"\breligio|\bfaith\b|\bbelief",
    "sex": r"\bsex\b|\bgender\b|\bwomen\b|\bmen\b",
    "sexual orientation": r"\bsexual orientation\b|\blgbt",
}


@dataclass(frozen=True)
class CiaFinding:
    """A problem that keeps the assessment from being complete."""

    section: str
    problem: str


def derive_engagement_summary(events: list[EngagementEventFacts]) -> str:
    """A plain-English summary of who was engaged, written from the engagement log."""
    if not events:
        return "No engagement events have been recorded."
    total = sum(e.attendees for e in events)
    by_audience = Counter[str]()
    for e in events:
        by_audience[e.audience.value.replace("_", " ")] += e.attendees
    parts = ", ".join(f"{name}: {count}" for name, count in sorted(by_audience.items()))
    resident_events = sum(1 for e in events if e.audience in RESIDENT_FACING_AUDIENCES)
    return (
        f"{len(events)} engagement event(s) with {total} attendee(s) in all ({parts}). "
        f"{resident_events} event(s) were for residents or community audiences; "
        f"{resident_share(events):.0%} of attendees were at resident-facing events."
    )


def derive_consultation_findings(
    consultation: ConsultationFacts | None, feedback: list[FeedbackFacts]
) -> str:
    """A summary of the consultation and public feedback, written from the records."""
    if consultation is None:
        text = "No consultation has been set up."
    elif consultation.status is ConsultationStatus.DRAFT:
        text = "The consultation has not opened yet."
    else:
        state = "closed" if consultation.status is ConsultationStatus.CLOSED else "open"
        text = f"The consultation is {state} with {consultation.response_count} response(s)."
    visible = [f for f in feedback if not f.hidden_for_abuse]
    kinds = Counter(f.kind for f in visible)
    objections = [f for f in visible if f.kind is FeedbackKind.OBJECTION]
    answered = sum(1 for f in objections if f.answered)
    if visible:
        summary = ", ".join(f"{k.value.replace('_', ' ')}: {n}" for k, n in sorted(kinds.items()))
        text += (f" Public feedback received: {summary}. {answered} of {len(objections)} "
                 "objection(s) have a published answer.")
    else:
        text += " No public feedback has been received."
    return text


def _words(text: str) -> int:
    return len(text.split())


def completeness_findings(
    cia: CiaFacts | None,
    events: list[EngagementEventFacts],
    consultation: ConsultationFacts | None,
) -> list[CiaFinding]:
    """Every reason the assessment is not yet complete; an empty list means complete."""
    if cia is None:
        return [CiaFinding("assessment", "no community impact assessment has been written")]
    findings: list[CiaFinding] = []
    for name in TYPED_SECTIONS:
        text = getattr(cia, name)
        minimum = MIN_DECISION_WORDS if name == "decision" else MIN_SECTION_WORDS
        if _words(text) < minimum:
            findings.append(CiaFinding(
                name, f"{name.replace('_', ' ')} has {_words(text)} word(s); write at least "
                f"{minimum}"))
    if not re.search(r"\bresident", cia.area_profile, re.I):
        findings.append(CiaFinding(
            "area_profile", "the area profile never mentions residents; describe who lives there"))
    named = [k for k, p in _PROTECTED_CHARACTERISTICS.items() if re.search(p, cia.equality_impact,
                                                                            re.I)]
    if len(named) < 2:
        findings.append(CiaFinding(
            "equality_impact",
            "the equality impact names fewer than two protected characteristics (e.g. race, "
            "sex, age, disability); say how each group could be affected, including by false "
            "alerts"))
    if not re.search(r"false (?:alert|match|positive)|misidentif", cia.risks, re.I):
        findings.append(CiaFinding(
            "risks", "the risks never mention false alerts or misidentification"))
    if not events:
        findings.append(CiaFinding("engagement_summary", "no engagement events are recorded"))
    elif not any(e.audience in RESIDENT_FACING_AUDIENCES for e in events):
        findings.append(CiaFinding(
            "engagement_summary", "no engagement event was for residents or community groups"))
    if consultation is None or consultation.status is ConsultationStatus.DRAFT:
        findings.append(CiaFinding(
            "consultation_findings", "the consultation has not been run yet"))
    return findings
