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

from sqlalchemy import select

from openlfr.demo import content
from openlfr.governance.lifecycle import Transition
from openlfr.services import assessments, consultations, deployments, technology, users
from openlfr.services.platform import PUBLIC_ACTOR, Actor, Platform, Role, utcnow
from openlfr.services.schemas import (
    AnswerIn,
    ApiKeyIn,
    ConsultationIn,
    ConsultationResponseIn,
    DeploymentIn,
    EngagementEventIn,
    FeedbackIn,
    ImpactAssessmentIn,
    MotionIn,
    MotionResponseIn,
    TechnologyIn,
    UserIn,
)
from openlfr.storage import models as m

#: The demo's staff accounts (username = role) and their shared password.
DEMO_PASSWORD = "openlfr-demo-password"
DEMO_ROLES = ("planner", "authoriser", "operator", "oversight", "admin")


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


def actor(p: Platform, role: str) -> Actor:
    """The demo account for ``role`` as the services see it."""
    with p.sessions() as s:
        user = s.scalar(select(m.User).where(m.User.username == role))
        assert user is not None, f"demo user {role} missing"
        return Actor(name=user.username, role=Role(user.role), user_id=user.id)


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
        users.create_user(p, system, UserIn(username=role, password=DEMO_PASSWORD,
                                            role=role))  # type: ignore[arg-type]
    say(f"accounts: {', '.join(DEMO_ROLES)} (password {DEMO_PASSWORD})")

    from openlfr.recognition import DEFAULT_THRESHOLD
    from openlfr.recognition.models import descriptor_model_id

    model_id = descriptor_model_id()
    tech = technology.register_technology(p, actor(p, "admin"), TechnologyIn(
        algorithm="dlib HOG/CNN detector, 5-point alignment, ResNet-34 descriptor, L2 score",
        model_version=model_id[:200], vendor_or_project="openlfr (demo)",
        default_threshold=DEFAULT_THRESHOLD,
        notes="Registered by the demo; no equity audit has been run on labelled data yet."))

    at(start - timedelta(days=40))
    motion = consultations.record_motion(p, actor(p, "oversight"), MotionIn(
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

    for i, event in enumerate(content.ENGAGEMENT):
        held = start - timedelta(days=19 - 2 * i)
        at(held)
        assessments.add_engagement_event(p, planner, d.id, EngagementEventIn(
            held_on=held.date(), **event))  # type: ignore[arg-type]
    reached = sum(int(e["attendees"]) for e in content.ENGAGEMENT)  # type: ignore[call-overload]
    say(f"engagement: {len(content.ENGAGEMENT)} events, {reached} people, most of them "
        "residents")

    at(start - timedelta(days=18))
    c = consultations.save_consultation(p, planner, d.id, ConsultationIn.model_validate(
        content.CONSULTATION))
    consultations.open_consultation(p, planner, d.id)
    for i, (choice, district) in enumerate(content.CONSULTATION_RESPONSES):
        at(start - timedelta(days=17, hours=-i))
        answers = {"q2": choice}
        if i < len(content.FREE_TEXT_ANSWERS):
            answers["q1"] = content.FREE_TEXT_ANSWERS[i]
        consultations.submit_response(p, PUBLIC_ACTOR, c.id, _response(answers, district))
    at(start - timedelta(days=16))
    objection = consultations.submit_feedback(p, PUBLIC_ACTOR, d.id, FeedbackIn(
        kind="objection", text=content.OBJECTION,  # type: ignore[arg-type]
        contact="resident@example.org"))
    question = consultations.submit_feedback(p, PUBLIC_ACTOR, d.id, FeedbackIn(
        kind="question", text=content.QUESTION))  # type: ignore[arg-type]
    at(start - timedelta(days=10))
    consultations.close_consultation(p, planner, d.id)
    say(f"consultation: {len(content.CONSULTATION_RESPONSES)} anonymous responses, closed")
    at(start - timedelta(days=9))
    consultations.answer_feedback(p, planner, objection.id,
                                  AnswerIn(answer=content.OBJECTION_ANSWER))
    consultations.answer_feedback(p, planner, question.id,
                                  AnswerIn(answer=content.QUESTION_ANSWER))
    say("an objection and a question: both answered in public")

    at(start - timedelta(days=8))
    assessments.save_assessment(p, planner, d.id, ImpactAssessmentIn(
        area_profile=content.AREA_PROFILE, risks=content.RISKS,
        mitigations=content.MITIGATIONS, equality_impact=content.EQUALITY_IMPACT,
        decision=content.DECISION))
    assessments.publish_assessment(p, planner, d.id)
    say("community impact assessment complete and published")

    key = users.create_api_key(p, actor(p, "admin"), ApiKeyIn(name="van-1 (demo)",
                                                               deployment_id=d.id))
    state.node_api_key = key.secret
    state.notes.append(f"clock for the story's past: {clock.now.isoformat()}")
    return state


def _response(answers: dict[str, str], district: str | None) -> ConsultationResponseIn:
    fields: dict[str, object] = {"answers": answers}
    if district is not None and "postcode_district" in ConsultationResponseIn.model_fields:
        fields["postcode_district"] = district
    return ConsultationResponseIn.model_validate(fields)


def jpeg_b64(jpeg: bytes) -> str:
    return base64.b64encode(jpeg).decode()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
