"""Community impact assessment: derived sections and the completeness check.

Sections that can be derived from records (engagement summary, consultation findings)
are written from the data so they cannot be typed to taste. The completeness check
flags sections that are missing or thin, e.g. an area profile that never says who lives
there: a sentence has to describe the residents (how many, their ages, households,
languages, housing...), and a press line that happens to contain the word "residents"
does not (see ``describes_residents``).
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
    total = sum(e.people_met for e in events)
    by_audience = Counter[str]()
    for e in events:
        by_audience[e.audience.value.replace("_", " ")] += e.people_met
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
    # An item whose text is withheld for abuse was received all the same.
    kinds = Counter(f.kind for f in feedback)
    objections = [f for f in feedback if f.kind is FeedbackKind.OBJECTION]
    answered = sum(1 for f in objections if f.answered)
    withheld = sum(1 for f in feedback if f.hidden_for_abuse)
    if feedback:
        summary = ", ".join(f"{k.value.replace('_', ' ')}: {n}" for k, n in sorted(kinds.items()))
        text += (f" Public feedback received: {summary}"
                 + (f" ({withheld} with the text withheld for abuse)" if withheld else "")
                 + f". {answered} of {len(objections)} objection(s) have a published answer.")
    else:
        text += " No public feedback has been received."
    return text


def _words(text: str) -> int:
    return len(text.split())


# --- does the area profile say who lives there? -------------------------------------------

#: Words that refer to the people who live in the area.
_RESIDENTS = re.compile(
    r"\b(?:residents?|inhabitants|households?|population|tenants|locals|people\s+(?:who\s+)?"
    r"(?:live|living)|(?:who|that)\s+lives?\s+(?:here|there|in))\b", re.I)
#: What makes a sentence about them a description: a count or a fact of their profile.
_PROFILE = re.compile(
    r"\d|\b(?:thousand|hundred|half|third|quarter|majority|most|many|few)\b|"
    r"\b(?:aged?|ages|older|elderly|young(?:er)?|children|famil(?:y|ies)|students?|"
    r"pensioners|ethnic\w*|black|asian|white|mixed|languages?|born|housing|council\s+"
    r"homes?|homeowners?|owner[- ]occupiers?|renters?|renting|deprivation|deprived|"
    r"income|unemploy\w*|disab\w*|faith|religio\w*|muslim|christian|jewish|hindu|sikh|"
    r"census|lgbt\w*|women|men|migrants?|refugees?)\b", re.I)
#: A sentence about communications rather than about the people: press lines,
#: reassurance, publicity. Such a sentence may mention residents without describing them.
_COMMUNICATIONS = re.compile(
    r"\b(?:press|media|journalists?|enquir\w+|inquir\w+|statements?|reassur\w+|"
    r"communications?|comms|publicity|publicis\w+|social\s+media|twitter|facebook|"
    r"messag\w+|(?:will|would)\s+be\s+(?:informed|told|notified|updated|made\s+aware)|"
    r"keep\w*\s+(?:residents|the\s+public|people)\s+informed)\b", re.I)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def describes_residents(text: str) -> bool:
    """True when some sentence of ``text`` describes the people who live in the area: it
    names them (residents, households, the population, people who live there) with a
    count or a fact about them (ages, families, languages, housing, ethnicity, ...), and
    is not a line about communications.

    "About 14,000 residents live in the ward, many of them young families" describes
    them; "The press office will reassure residents that the deployment is
    intelligence-led", the kind of sentence that was all an assessment said of residents
    in 2024, does not."""
    return any(_RESIDENTS.search(s) and _PROFILE.search(s) and not _COMMUNICATIONS.search(s)
               for s in _sentences(text))


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
    if not describes_residents(cia.area_profile):
        findings.append(CiaFinding(
            "area_profile", "the area profile never describes who lives there; say how many "
            "residents there are and who they are (ages, households, languages, housing); a "
            "sentence that only mentions residents, such as a press line, does not count"))
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
