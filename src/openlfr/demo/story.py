"""The demo story, step by step, through the same use cases the API and pages call.

The governance half happens "in the past": the platform's clock is set back so notice
can be published three weeks before the deployment starts (the notice gate counts real
days), then moves forward step by step. At authorisation the clock is the real one again:
the deployment's window is now, the node processes the bundled clip against the real
engine, alerts reach the platform over HTTP, an operator adjudicates them, the
deployment is completed and its review published.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from openlfr.demo import content
from openlfr.governance.answers import AnswerOutcome
from openlfr.governance.lifecycle import Transition
from openlfr.services import (
    assessments,
    consultations,
    deployments,
    overrides,
    technology,
    users,
)
from openlfr.services.atrs import AtrsFields
from openlfr.services.platform import PUBLIC_ACTOR, Actor, Platform, Role, utcnow
from openlfr.services.schemas import (
    AnswerIn,
    ApiKeyIn,
    ConsultationIn,
    ConsultationResponseIn,
    CountersignIn,
    DeploymentIn,
    EngagementEventIn,
    FeedbackIn,
    ImpactAssessmentIn,
    MotionIn,
    MotionResponseIn,
    UserIn,
)
from openlfr.storage import models as m

#: The demo's staff accounts (username = role) and their shared password.
DEMO_PASSWORD = "openlfr-demo-password"
DEMO_ROLES = ("planner", "authoriser", "operator", "oversight", "councillor", "admin")


class StoryClock:
    """The platform clock during the governance half: set to moments in the past, in
    order, then handed back to the real clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class DemoState:
    """What the story made: the deployment, its key for the node, and what happened."""

    deployment_id: int = 0
    reference: str = ""
    node_api_key: str = ""
    alerts: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alert_frames: dict[str, int] = field(default_factory=dict)
    """The clip frame each alert the node raised was seen on, by alert_uid (its events)."""


def actor(p: Platform, role: str) -> Actor:
    """The demo account for ``role`` as the services see it."""
    with p.sessions() as s:
        user = s.scalar(select(m.User).where(m.User.username == role))
        assert user is not None, f"demo user {role} missing"
        return users.actor_of(user)


def existing_demo(p: Platform) -> m.Deployment | None:
    """The demo deployment if a previous run made one."""
    with p.sessions() as s:
        return s.scalar(select(m.Deployment).where(m.Deployment.title == content.TITLE))


def run_governance(p: Platform, say: Callable[[str], None],
                   now: datetime | None = None) -> DemoState:
    """Everything before the deployment goes live: accounts, the engine in the technology
    register, a council motion and its response, the deployment drafted and proposed,
    notice published three weeks ahead, engagement, a consultation with anonymous answers,
    an objection and a question with answers, the impact assessment, and the gates."""
    real_now = (now or utcnow()).replace(second=0, microsecond=0)
    start = real_now - timedelta(minutes=5)
    clock = StoryClock(start - timedelta(days=22))
    p.clock = clock
    state = DemoState()

    def at(moment: datetime) -> None:
        clock.now = moment

    system = Actor(name="demo-setup", role=Role.ADMIN)
    for role in DEMO_ROLES:
        users.create_user(p, system, UserIn(  # the councillor acts for the demo's borough
            username=role, password=DEMO_PASSWORD, role=role,  # type: ignore[arg-type]
            areas=[content.BOROUGH] if role == "councillor" else []))
    say(f"accounts: {', '.join(DEMO_ROLES)} (password {DEMO_PASSWORD})")

    from openlfr.recognition import DEFAULT_THRESHOLD

    # The engine fills its own entry: model id and weights hash, what it runs, threshold.
    tech = technology.register_running_engine(
        p, actor(p, "admin"), "openlfr (demo)",
        notes="Registered by the demo; no equity audit has been run on labelled data yet.",
        atrs=AtrsFields.model_validate(content.ATRS))

    at(start - timedelta(days=40))
    motion = consultations.record_motion(p, actor(p, "councillor"), MotionIn(
        passed_on=(start - timedelta(days=40)).date(), **content.MOTION))  # type: ignore[arg-type]
    at(start - timedelta(days=30))
    consultations.respond_to_motion(p, actor(p, "planner"), motion.id,
                                    MotionResponseIn(response=content.MOTION_RESPONSE))
    say(f"council motion: {content.MOTION['body']} ({content.MOTION['stance']}), "
        "response published")

    at(start - timedelta(days=22))
    planner = actor(p, "planner")
    d = deployments.create_deployment(p, planner, DeploymentIn(
        title=content.TITLE, borough=content.BOROUGH, ward=content.WARD,
        sites=content.SITES,  # type: ignore[arg-type]
        start_at=start, end_at=start + timedelta(hours=8), purpose=content.PURPOSE,
        offence_categories=content.OFFENCE_CATEGORIES,
        intelligence_basis=content.INTELLIGENCE_BASIS, legal_basis=content.LEGAL_BASIS,
        threshold=DEFAULT_THRESHOLD, camera_count=2, signage=content.SIGNAGE,
        technology_id=tech.id))
    state.deployment_id, state.reference = d.id, d.reference
    deployments.transition_deployment(p, planner, d.id, Transition.PROPOSE)
    at(start - timedelta(days=21))
    deployments.transition_deployment(p, planner, d.id, Transition.PUBLISH_NOTICE)
    say(f"deployment {d.reference} proposed; notice published 21 days before the start")
    # The consultation opens with the notice and runs 15 days (at least 14 must pass).
    c = consultations.save_consultation(p, planner, d.id, ConsultationIn.model_validate(
        content.CONSULTATION))
    consultations.open_consultation(p, planner, d.id)

    for i, event in enumerate(content.ENGAGEMENT):
        held = start - timedelta(days=19 - 2 * i)
        at(held)
        assessments.add_engagement_event(p, planner, d.id, EngagementEventIn(
            held_on=held.date(), **event))  # type: ignore[arg-type]
    reached = sum(int(e["attendees"]) for e in content.ENGAGEMENT)  # type: ignore[call-overload]
    say(f"engagement: {len(content.ENGAGEMENT)} events, {reached} people, most of them "
        "residents")

    for i, (choice, district) in enumerate(content.CONSULTATION_RESPONSES):
        at(start - timedelta(days=13, hours=-i))
        answers = {"q2": choice}
        if i < len(content.FREE_TEXT_ANSWERS):
            answers["q1"] = content.FREE_TEXT_ANSWERS[i]
        consultations.submit_response(p, PUBLIC_ACTOR, c.id, _response(answers, district))
    at(start - timedelta(days=12))
    objection = consultations.submit_feedback(p, PUBLIC_ACTOR, d.id, FeedbackIn(
        kind="objection", text=content.OBJECTION,  # type: ignore[arg-type]
        contact="resident@example.org"))
    question = consultations.submit_feedback(p, PUBLIC_ACTOR, d.id, FeedbackIn(
        kind="question", text=content.QUESTION))  # type: ignore[arg-type]
    at(start - timedelta(days=9))
    consultations.answer_feedback(p, planner, objection.id, AnswerIn(
        answer=content.OBJECTION_ANSWER, outcome=AnswerOutcome.NOT_UPHELD))
    consultations.answer_feedback(p, planner, question.id, AnswerIn(
        answer=content.QUESTION_ANSWER, outcome=AnswerOutcome.ANSWERED))
    say("an objection and a question: both answered in public, the objector e-mailed")

    at(start - timedelta(days=8))
    assessments.save_assessment(p, planner, d.id, ImpactAssessmentIn(
        area_profile=content.AREA_PROFILE, risks=content.RISKS,
        mitigations=content.MITIGATIONS, equality_impact=content.EQUALITY_IMPACT,
        decision=content.DECISION))
    assessments.publish_assessment(p, planner, d.id)
    say("community impact assessment complete and published")
    at(start - timedelta(days=6))
    consultations.close_consultation(p, planner, d.id)
    say(f"consultation: {len(content.CONSULTATION_RESPONSES)} anonymous responses over 15 "
        "days, closed")

    key = users.create_api_key(p, actor(p, "authoriser"), ApiKeyIn(name="van-1 (demo)",
                                                                 deployment_id=d.id))
    # Two people: the operator confirms it for the van, and only they are shown the secret.
    confirmed = users.confirm_api_key(p, actor(p, "operator"), key.key.id)
    assert confirmed.secret is not None
    state.node_api_key = confirmed.secret
    state.notes.append(f"clock for the story's past: {clock.now.isoformat()}")
    return state


#: Sample subjects put on the demo watchlist (folders of the bundled photos), by category.
WATCHLIST_SUBJECTS = {
    "lin_manuel_miranda": "missing_person",
    "alex_lacamoire": "wanted_by_court",
    "obama": "wanted_by_court",
    "biden": "wanted_by_court",
    "kit_harington": "missing_person",
    "rose_leslie": "missing_person",
}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def run_watchlist_and_authorisation(p: Platform, state: DemoState, samples: Path,
                                    say: Callable[[str], None]) -> None:
    """Still in the story's past: enrol the sample subjects from their photos (the engine
    finds each face; descriptors and the aligned face are stored encrypted), build the
    watchlist two hours before the start, and authorise an hour before it."""
    from openlfr.services import watchlist_photos, watchlists
    from openlfr.services.schemas import WatchlistSubjectIn

    clock = p.clock
    assert isinstance(clock, StoryClock)
    d = deployments.get_deployment(p, actor(p, "planner"), state.deployment_id)
    clock.now = d.start_at - timedelta(hours=3)
    planner = actor(p, "planner")
    watchlists.create_watchlist(p, planner, d.id, watchlist_photos.photo_watchlist())
    for ref, category in WATCHLIST_SUBJECTS.items():
        folder = samples / "identities" / ref
        photos = [watchlist_photos.Photo(f.name, f.read_bytes())
                  for f in sorted(folder.iterdir()) if f.suffix.lower() in PHOTO_SUFFIXES]
        watchlist_photos.enrol_from_photos(p, planner, d.id, WatchlistSubjectIn(
            subject_ref=f"SAMPLE/{ref}", category=category, source="openlfr sample photos",
            authorised_by="Supt. Demo", image_taken_on=(d.start_at - timedelta(days=30)).date(),
            expires_on=(d.end_at + timedelta(days=1)).date()), photos)
        say(f"watchlist: enrolled {ref} from {len(photos)} photo(s) as {category}")
    clock.now = d.start_at - timedelta(hours=2)
    watchlists.build_watchlist(p, planner, d.id)
    clock.now = d.start_at - timedelta(hours=1)
    outcome = deployments.transition_deployment(
        p, actor(p, "authoriser"), d.id, Transition.AUTHORISE,
        override_justification=content.OVERRIDE_ASKED)
    assert outcome.gates is not None
    passed = sum(1 for g in outcome.gates.results if g.passed)
    failing = ", ".join(g.name for g in outcome.gates.failing) or "none"
    if outcome.override is not None:  # the engine was never audited: the threshold gate fails
        clock.now = d.start_at - timedelta(minutes=50)
        overrides.countersign_override(p, actor(p, "oversight"), d.id, CountersignIn(
            override_id=outcome.override.id, justification=content.OVERRIDE_COUNTERSIGNED))
        say(f"authorised: {passed} of {len(outcome.gates.results)} gates passed; "
            f"{failing} set aside by an override the authoriser asked for and oversight "
            "countersigned (both reasons published)")
    else:
        say(f"authorised: {passed} of {len(outcome.gates.results)} gates passed, no override")


def activate_now(p: Platform, state: DemoState, say: Callable[[str], None]) -> None:
    """Back to the real clock: the deployment's published window is now."""
    p.clock = utcnow
    deployments.transition_deployment(p, actor(p, "operator"), state.deployment_id,
                                      Transition.ACTIVATE)
    say(f"activated {state.reference} (gates checked again)")


def adjudicate_and_complete(p: Platform, state: DemoState, say: Callable[[str], None]) -> None:
    """The demo operator judges each alert by who is in shot at its frame of the clip
    (``openlfr.samples``, labelled by hand): one naming someone in shot is confirmed and
    the person spoken to, one naming nobody in shot is a false alert, and one whose frame
    the demo did not see (a node run in another process) is marked unclear. Then the
    deployment is completed (the watchlist is destroyed, the review published) and
    reviewed."""
    from openlfr.samples import in_shot
    from openlfr.services import alerts as alert_service
    from openlfr.services.schemas import AdjudicationIn, OutcomeIn

    operator = actor(p, "operator")
    with p.sessions() as s:
        subject_of = {entry_id: ref for entry_id, ref in s.execute(
            select(m.WatchlistEntry.id, m.WatchlistEntry.subject_ref))}
    for alert in alert_service.list_alerts(p, operator, state.deployment_id):
        state.alerts.append(alert.id)
        if alert.adjudication != "pending":
            continue
        subject = subject_of.get(alert.entry_id or 0, "").removeprefix("SAMPLE/")
        frame = state.alert_frames.get(alert.alert_uid)
        if frame is None:
            alert_service.adjudicate_alert(p, operator, alert.id,
                                           AdjudicationIn(adjudication="unclear"))
            say(f"alert {alert.id} ({alert.score:.3f}): operator marks it unclear")
        elif subject in in_shot(frame):
            alert_service.adjudicate_alert(p, operator, alert.id,
                                           AdjudicationIn(adjudication="true_match"))
            alert_service.record_outcome(p, operator, alert.id,
                                         OutcomeIn(outcome="words_of_advice"))  # type: ignore[arg-type]
            say(f"alert {alert.id} ({alert.score:.3f}): {subject} is in shot at frame "
                f"{frame}; the operator confirms it, person spoken to")
        else:
            alert_service.adjudicate_alert(p, operator, alert.id,
                                           AdjudicationIn(adjudication="false_match"))
            say(f"alert {alert.id} ({alert.score:.3f}): {subject} is not in shot at frame "
                f"{frame}; the operator marks it a false alert")
    deployments.transition_deployment(p, operator, state.deployment_id, Transition.COMPLETE)
    say("completed: watchlist descriptors and photos destroyed, review published")
    deployments.transition_deployment(p, actor(p, "oversight"), state.deployment_id,
                                      Transition.REVIEW, note=content.REVIEW_SUMMARY)
    say("oversight review recorded; the review is republished with it")


def run_upcoming(p: Platform, say: Callable[[str], None]) -> str:
    """An upcoming deployment beside the completed one (real clock): drafted, proposed and
    noticed three weeks ahead, its consultation open for answers. Returns its reference."""
    from openlfr.recognition import DEFAULT_THRESHOLD

    planner = actor(p, "planner")
    start = p.clock().replace(second=0, microsecond=0) + timedelta(days=21)
    d = deployments.create_deployment(p, planner, DeploymentIn(
        title=content.UPCOMING_TITLE, borough=content.BOROUGH, ward=content.UPCOMING_WARD,
        sites=content.UPCOMING_SITES,  # type: ignore[arg-type]
        start_at=start, end_at=start + timedelta(hours=8), purpose=content.PURPOSE,
        offence_categories=content.OFFENCE_CATEGORIES,
        intelligence_basis=content.INTELLIGENCE_BASIS, legal_basis=content.LEGAL_BASIS,
        threshold=DEFAULT_THRESHOLD, camera_count=1, signage=content.SIGNAGE))
    deployments.transition_deployment(p, planner, d.id, Transition.PROPOSE)
    deployments.transition_deployment(p, planner, d.id, Transition.PUBLISH_NOTICE)
    consultations.save_consultation(p, planner, d.id, ConsultationIn.model_validate(
        content.CONSULTATION))
    consultations.open_consultation(p, planner, d.id)
    say(f"upcoming: {d.reference} noticed 21 days ahead, its consultation open")
    return d.reference


def _response(answers: dict[str, str], district: str | None) -> ConsultationResponseIn:
    fields: dict[str, object] = {"answers": answers}
    if district is not None and "postcode_district" in ConsultationResponseIn.model_fields:
        fields["postcode_district"] = district
    return ConsultationResponseIn.model_validate(fields)


def jpeg_b64(jpeg: bytes) -> str:
    return base64.b64encode(jpeg).decode()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
