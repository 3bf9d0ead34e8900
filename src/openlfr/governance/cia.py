"""Community impact assessment: derived sections and the completeness check.

Sections that can be derived from records (engagement summary, consultation findings)
are written from the data so they cannot be typed to taste. The completeness check
flags sections that are missing or thin, e.g. an area profile that never says who lives
there: a sentence has to count the residents or give a share of them (how many, what
share are of an age, rent, speak a language...), and a press line that happens to contain
the word "residents", or a year beside it, does not (see ``describes_residents``); or an
equality impact that lists the protected characteristics and says "no disproportionate
impact" without saying, for any of them, what the effect is or why there is none (see
``explains_an_equality_effect``).
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

#: Who lives there: the people a count or a share must be of.
_WHO = (r"(?:residents?|inhabitants|households?|population|tenants|locals|homes|families|"
        r"adults|children|pensioners|people\s+(?:who\s+)?(?:live|living|aged|over|under)|"
        r"(?:older|younger|young|disabled)\s+(?:people|residents))")
#: A count: a number that is not a year ("14,000", "3.2k", "two thousand", "hundreds").
_COUNT = (r"(?:(?<![\d,.])(?!(?:19|20)\d\d\b)\d[\d,.]*(?:\s*(?:k|m|thousand|hundred|"
          r"million))?|(?:a|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
          r"fifteen|twenty|thirty|forty|fifty|several|some|a\s+few)\s+(?:hundred|thousand)|"
          r"hundreds|thousands)")
#: A share: a percentage, a fraction or a majority ("38%", "a third", "one in four",
#: "most"). "Many" and "few" say nothing of how many, and are not shares.
_SHARE = (r"(?:\d+(?:\.\d+)?\s*(?:%|per\s*cent|percent)|(?:a|one|two|three)\s+(?:half|"
          r"thirds?|quarters?|fifths?|tenths?)|half|(?:one|\d+)\s+in\s+(?:two|three|four|"
          r"five|six|seven|eight|nine|ten|\d+)|(?:the\s+)?(?:vast\s+)?(?:majority|minority)|"
          r"most|nearly\s+all|almost\s+all)")
#: A count or share attached to who lives there: "14,000 residents", "a third of
#: residents", "38% of households", "a population of 15,200", "residents, 40% of whom",
#: "one household in four", "residents are mostly young families".
_COUNTED_RESIDENTS = re.compile(
    rf"\b(?:about|around|roughly|approximately|nearly|almost|over|more\s+than|some|just\s+"
    rf"(?:over|under))?\s*(?:{_COUNT}|{_SHARE})\s+(?:of\s+(?:the\s+|its\s+|all\s+|these\s+)?)?"
    # up to two words between, but not a counted thing ("2 mosques serving residents")
    rf"(?:(?!(?:in|of|with|for|to|and|at|on|by|from|the)\b)(?![\w-]*[^s\W]s\b)[\w-]+\s+)"
    rf"{{0,2}}?{_WHO}\b(?!['’])|"
    # "about 2000 households": a year-like number, but an approximate one is a count
    rf"\b(?:about|around|roughly|approximately|nearly|almost|over|some)\s+(?:19|20)\d\d\s+"
    rf"{_WHO}\b(?!['’])|"
    rf"\b{_WHO}\s+of\s+(?:about\s+|around\s+|roughly\s+|approximately\s+|nearly\s+|"
    rf"almost\s+|over\s+|just\s+(?:over|under)\s+|some\s+)?{_COUNT}|"
    rf"\b{_WHO}[,;]?\s+(?:(?:{_COUNT}|{_SHARE})\s+of\s+(?:whom|them)|of\s+whom\s+"
    rf"(?:{_COUNT}|{_SHARE}))|"
    r"\bone\s+(?:resident|household|home|family|person|adult|child)\s+in\s+\w+\b|"
    rf"\b{_WHO}\s+(?:\w+\s+){{0,4}}?(?:are|is|were|was)\s+(?:\w+\s+)?(?:mostly|mainly|largely|"
    r"predominantly|overwhelmingly|chiefly)\b|"
    rf"\b{_WHO}\s+(?:number(?:s|ed)?|total(?:s|led|ed)?|counted)\s+(?:about\s+|around\s+|"
    rf"over\s+|some\s+)?{_COUNT}", re.I)
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
    gives a count or a share of them (residents, households, the population, people aged
    ...): "14,000 residents", "a third of residents", "38% of households", "residents
    are mostly young families"; and is not a line about communications.

    "About 14,000 residents live in the ward, many of them young families" describes
    them; "The press office will reassure residents that the deployment is
    intelligence-led", the kind of sentence that was all an assessment said of residents
    in 2024, does not, and neither does boilerplate with a number that counts something
    else: a year ("reviewed in 2024 with residents in mind"), "many visitors", "residents
    in the 3 wards"."""
    return any(_COUNTED_RESIDENTS.search(s) and not _COMMUNICATIONS.search(s)
               for s in _sentences(text))


# --- does the equality impact say what the effect is? --------------------------------------

#: What a sentence must say of a group to explain an effect: a way LFR can affect people
#: (false alerts, accuracy, being stopped, avoiding the area, signs they cannot use, head
#: coverings, places of worship...) or a reason ("because", "due to"). "Impact", "affect"
#: and "disproportionate" are not on the list: they are the words of the stock line.
_EQUALITY_EFFECT = re.compile(
    r"\b(?:false\s+(?:alerts?|match\w*|positives?)|misidentif\w*|wrong(?:ly|ful\w*)?|"
    r"mistaken\w*|(?:in)?accura\w*|errors?|bias\w*|differ\w*|unequal\w*|(?:more|less)\s+"
    r"likely|stop(?:s|ped|ping)?|search(?:es|ed)?|approach\w*|avoid\w*|deter\w*|stay\s+away|"
    r"feel\s+(?:watched|targeted|singled\s+out|uneasy)|trust|signs?|signage|leaflets?|"
    r"wheelchairs?|mobility|(?:head|face)\s+coverings?|hijabs?|niqabs?|veils?|turbans?|"
    r"worship\w*|mosques?|church\w*|synagogues?|temples?|gurdwaras?|thresholds?|audit\w*|"
    r"watchlists?|over-?represent\w*|under-?represent\w*|because|since|as\s+a\s+result|"
    r"due\s+to|owing\s+to|therefore|which\s+means|so\s+that)\b", re.I)


def _characteristics(text: str) -> list[str]:
    return [k for k, p in _PROTECTED_CHARACTERISTICS.items() if re.search(p, text, re.I)]


def explains_an_equality_effect(text: str) -> bool:
    """True when some sentence of ``text`` names a protected characteristic and says how
    LFR could affect that group or why it would not: a concrete effect (false alerts,
    accuracy, being stopped, avoiding the area, signs, head coverings, ...) or a reason
    ("because", "due to").

    "The audit found false alerts fell unequally by race below 0.58, so the threshold is
    set above that" explains one; "The impact on age, disability, race, religion or
    belief, sex and sexual orientation has been considered and no disproportionate
    impact was found" lists the characteristics and explains nothing."""
    return any(_characteristics(s) and _EQUALITY_EFFECT.search(s) for s in _sentences(text))


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
            "area_profile", "the area profile never describes who lives there; give a count "
            "or a share of the residents (\"about 14,000 residents\", \"a third of "
            "households rent from the council\", \"18% of residents are aged over 65\"); a "
            "sentence that only mentions residents, such as a press line, does not count, "
            "nor does a year or \"many\" beside them"))
    named = _characteristics(cia.equality_impact)
    if len(named) < 2:
        findings.append(CiaFinding(
            "equality_impact",
            "the equality impact names fewer than two protected characteristics (e.g. race, "
            "sex, age, disability); say how each group could be affected, including by false "
            "alerts"))
    if named and not explains_an_equality_effect(cia.equality_impact):
        findings.append(CiaFinding(
            "equality_impact",
            "the equality impact lists protected characteristics but never says, for any of "
            "them, what the effect is or why there is none; in a sentence that names the "
            "group, say how LFR could affect it (false alerts, being stopped, avoiding the "
            "area, signs it cannot use) or why it would not (\"the audit found no "
            "difference by race at this threshold\"): \"no disproportionate impact\" alone "
            "does not count"))
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
