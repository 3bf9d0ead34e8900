"""The governance records as plain Python: what a gate or a check needs to know.

These are snapshots, built by the service layer from storage. They hold no behaviour
that touches I/O; the rules that read them live in ``gates``, ``cia`` and ``wording``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from openlfr.governance.areas import Gazetteer
from openlfr.governance.lifecycle import DeploymentStatus


class AudienceCategory(StrEnum):
    """Who an engagement event was for."""

    RESIDENTS = "residents"
    YOUNG_PEOPLE = "young_people"
    COMMUNITY_GROUPS = "community_groups"
    BUSINESSES = "businesses"
    COUNCIL_OFFICIALS = "council_officials"
    COUNCILLORS = "councillors"
    ADVISORY_GROUP = "advisory_group"
    POLICE_INTERNAL = "police_internal"


#: Audiences that count as reaching residents rather than officials.
RESIDENT_FACING_AUDIENCES = frozenset(
    {AudienceCategory.RESIDENTS, AudienceCategory.YOUNG_PEOPLE, AudienceCategory.COMMUNITY_GROUPS}
)


class EngagementFormat(StrEnum):
    """How an engagement event was held."""

    PUBLIC_MEETING = "public_meeting"
    DROP_IN = "drop_in"
    STREET_STALL = "street_stall"
    DOOR_KNOCKING = "door_knocking"
    ONLINE_MEETING = "online_meeting"
    BRIEFING = "briefing"
    WRITTEN = "written"


class ConsultationStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class FeedbackKind(StrEnum):
    """What a member of the public is telling us."""

    OBJECTION = "objection"
    QUESTION = "question"
    SUPPORT = "support"
    COMPLAINT = "complaint"
    REDRESS_REQUEST = "redress_request"


#: Kinds that need a public answer before the deadline (support needs none).
KINDS_NEEDING_ANSWER = frozenset(
    {FeedbackKind.OBJECTION, FeedbackKind.QUESTION, FeedbackKind.COMPLAINT,
     FeedbackKind.REDRESS_REQUEST}
)


class MotionStance(StrEnum):
    """What a council motion asks for."""

    SUPPORT = "support"
    CONDITIONS = "conditions"
    SUSPEND = "suspend"
    OPPOSE = "oppose"
    NEUTRAL = "neutral"


class Adjudication(StrEnum):
    """An operator's decision on an alert."""

    PENDING = "pending"
    TRUE_MATCH = "true_match"
    FALSE_MATCH = "false_match"
    UNCLEAR = "unclear"


class AlertOutcome(StrEnum):
    """What happened after an alert was adjudicated."""

    ARREST = "arrest"
    NO_FURTHER_ACTION = "no_further_action"
    WORDS_OF_ADVICE = "words_of_advice"
    SAFEGUARDING = "safeguarding"
    NOT_ENGAGED = "not_engaged"
    OTHER = "other"


#: Outcomes in which officers stopped the person the alert was about. "not_engaged" (the
#: officers did not approach) is the only outcome that is not a stop; "other" counts as a
#: stop because it is recorded after an approach that fits none of the named results.
STOP_OUTCOMES = frozenset({AlertOutcome.ARREST, AlertOutcome.NO_FURTHER_ACTION,
                           AlertOutcome.WORDS_OF_ADVICE, AlertOutcome.SAFEGUARDING,
                           AlertOutcome.OTHER})


def is_stop(outcome: AlertOutcome | None) -> bool:
    """True when an alert's recorded outcome means the person was stopped."""
    return outcome in STOP_OUTCOMES


@dataclass(frozen=True)
class Site:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class DeploymentFacts:
    """The parts of a deployment the gates read."""

    reference: str
    status: DeploymentStatus
    borough: str
    ward: str | None
    start_at: datetime
    end_at: datetime
    threshold: float
    notice_published_at: datetime | None = None
    #: The gazetteer's codes of its borough and ward (None only for a legacy free-text
    #: area that matched no gazetteer name; see ``governance.areas``).
    borough_code: str | None = None
    ward_code: str | None = None


@dataclass(frozen=True)
class EngagementEventFacts:
    held_on: date
    audience: AudienceCategory
    attendees: int
    format: EngagementFormat = EngagementFormat.PUBLIC_MEETING

    @property
    def people_met(self) -> int:
        """The attendees who count as engaged: nobody attends a written contact (a letter,
        a leaflet, a social-media post), so "100 followers" of a post are no one met, and
        cannot outweigh the officials a force briefed."""
        return 0 if self.format is EngagementFormat.WRITTEN else self.attendees


@dataclass(frozen=True)
class ConsultationFacts:
    status: ConsultationStatus
    response_count: int = 0
    closed_at: datetime | None = None
    opened_at: datetime | None = None


@dataclass(frozen=True)
class FeedbackFacts:
    kind: FeedbackKind
    submitted_at: datetime
    answer_due_at: datetime
    answered_at: datetime | None = None
    #: Its text is withheld from the public for abuse. Only the text: the item still
    #: counts as received and still needs its published answer (``governance.answers``).
    hidden_for_abuse: bool = False

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def overdue(self, now: datetime) -> bool:
        """The one rule for "overdue": it needs a public answer, has none, and its deadline
        has passed (text withheld for abuse or not)."""
        return (self.kind in KINDS_NEEDING_ANSWER and not self.answered
                and self.answer_due_at < now)


@dataclass(frozen=True)
class CollectiveObjectionFacts:
    """A collective objection attached to the deployment: its confirmed co-signatures and
    whether oversight's hearing of it has been recorded."""

    signatures: int
    hearing_held: bool = False


#: What a motion asks for when it asks the force not to use LFR in its areas.
STOPPING_STANCES = frozenset({MotionStance.SUSPEND, MotionStance.OPPOSE})


@dataclass(frozen=True)
class CouncilMotionFacts:
    body: str
    passed_on: date
    stance: MotionStance
    #: The gazetteer codes of the areas it covers (a borough covers all its wards).
    area_codes: tuple[str, ...]
    response_published_at: datetime | None = None
    #: What the motion resolves or asks, point by point (empty: the summary is its one
    #: point), and the force's published answer to each, in the same order.
    points: tuple[str, ...] = ()
    point_answers: tuple[str, ...] = ()
    #: The published response's text (whether it answers the motion is
    #: ``governance.answers.motion_response_problem``'s to say).
    response: str | None = None

    def covers(self, borough_code: str | None, ward_code: str | None) -> bool:
        """True when one of the motion's areas covers the deployment's place
        (``Gazetteer.covers``: a motion on a ward binds a deployment that names only its
        borough)."""
        return any(Gazetteer.covers(code, borough_code, ward_code) for code in self.area_codes
                   if code is not None)

    @property
    def asks_to_stop(self) -> bool:
        """The motion asks to suspend or oppose LFR in its areas."""
        return self.stance in STOPPING_STANCES

    @property
    def published_response(self) -> str | None:
        """The response as published (None until it is)."""
        return self.response if self.response_published_at is not None else None


@dataclass(frozen=True)
class WatchlistEntryFacts:
    category: str
    image_taken_on: date
    expires_on: date | None = None


@dataclass(frozen=True)
class WatchlistFacts:
    entries: tuple[WatchlistEntryFacts, ...]
    built_at: datetime | None
    #: The engine's descriptor model id the watchlist is built with (None: not recorded).
    descriptor_model: str | None = None
    #: The second opinion's model when the watchlist decides with one (None: alone).
    reference_model: str | None = None


@dataclass(frozen=True)
class AuditedRates:
    """One row of an equity audit's overall 1:N results: at this watchlist size and
    threshold, the share of non-mated searches that raised a false alert (FPIR), the
    counts behind it, and the upper end of its 95% interval."""

    watchlist_size: int
    threshold: float
    fpir: float
    #: The figure a policy limit is held against: the upper 95% bound (the rate the data
    #: cannot rule out), computed by the platform from the counts (``services.technology``),
    #: never taken from the audit's word. None for a row stored without counts (before
    #: counts were required): such a row passes no limit, as an FPIR of 0 from a dozen
    #: searches rules out nothing.
    fpir_upper: float | None = None
    tpir: float | None = None
    nonmated_searches: int | None = None
    false_alerts: int | None = None


@dataclass(frozen=True)
class EquityAuditFacts:
    conducted_on: date
    fair_threshold: float
    recommended_threshold: float | None = None
    #: Overall identification results per watchlist size and threshold (empty: an audit
    #: recorded without them).
    identification: tuple[AuditedRates, ...] = ()
    #: The model the audit measured: its technology register entry's model version (the
    #: engine's descriptor model id); None where not known.
    model: str | None = None
    #: The second opinion's model when the audited engine decided with one (None: alone).
    second_opinion_model: str | None = None
    #: The groups whose results the audit gives (``group_results``), from which its fair
    #: threshold was found; fewer than two compare nobody.
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class CiaFacts:
    """The typed sections of a community impact assessment plus its publication state."""

    area_profile: str = ""
    risks: str = ""
    mitigations: str = ""
    equality_impact: str = ""
    decision: str = ""
    published_at: datetime | None = None


@dataclass(frozen=True)
class DeploymentDossier:
    """Everything the gates need to decide about one deployment."""

    deployment: DeploymentFacts
    cia: CiaFacts | None = None
    engagement: tuple[EngagementEventFacts, ...] = ()
    consultation: ConsultationFacts | None = None
    feedback: tuple[FeedbackFacts, ...] = ()
    motions: tuple[CouncilMotionFacts, ...] = ()
    watchlist: WatchlistFacts | None = None
    latest_equity_audit: EquityAuditFacts | None = None
    #: The moment the gates are asked (deadlines are judged against it); None: the start.
    as_of: datetime | None = None
    collective_objections: tuple[CollectiveObjectionFacts, ...] = ()
    #: When the plan was last amended to go further than its notice said (the notice
    #: restarted: ``governance.amendments``); None: never. Residents consulted before
    #: then answered about a narrower plan.
    plan_widened_at: datetime | None = None


def resident_share(events: tuple[EngagementEventFacts, ...] | list[EngagementEventFacts]) -> float:
    """Share of the people met (``people_met``: written contacts meet no one) who were at
    resident-facing events (0 when nobody was met)."""
    total = sum(e.people_met for e in events)
    if total == 0:
        return 0.0
    return sum(e.people_met for e in events if e.audience in RESIDENT_FACING_AUDIENCES) / total



#: The most faces that can newly pass one camera in a second (a crowd crossing a wide
#: street in front of it): a bound on what a node's counts can honestly say.
MAX_NEW_FACES_PER_CAMERA_SECOND = 20


def counts_beyond_cameras(tracks: int, cameras: int, seconds: float) -> bool:
    """More faces passing (``tracks``) than ``cameras`` could have seen in ``seconds``
    (the deployment's run, at most its published window), at
    ``MAX_NEW_FACES_PER_CAMERA_SECOND`` each. Published rates are per face passing, so a
    node that inflated its counts would make its false alerts look rarer: such counts
    are published as sent, flagged, and no rate per face is published from them."""
    return tracks > max(cameras, 1) * max(seconds, 1.0) * MAX_NEW_FACES_PER_CAMERA_SECOND
