"""A collective objection past the threshold, not yet heard, binds every deployment in an
area covering it, whatever it is attached to: no override can set it aside, so a planner
alone must not be able to step round it, (a) by naming only the borough when residents
objected in a ward, or (b) by proposing a decoy deployment in the ward that the standing
objection attaches to, then cancelling the decoy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from platform_helpers import START, Scenario, ok
from sqlalchemy import select

from openlfr.governance.roles import Role
from openlfr.services import collective
from openlfr.services.platform import PUBLIC_ACTOR, Actor
from openlfr.services.schemas import CollectiveObjectionIn, FollowIn, HearingIn
from openlfr.storage import models as m

WARD = "Lambeth/Vauxhall"
OVERSIGHT = Actor(name="oversight", role=Role.OVERSIGHT)


def _confirm_all(s: Scenario, objection_id: int) -> None:
    p = s.staff.platform
    with p.sessions() as db:
        tokens = list(db.scalars(select(m.CollectiveSignature.token).where(
            m.CollectiveSignature.objection_id == objection_id,
            m.CollectiveSignature.confirmed_at.is_(None))))
    for token in tokens:
        collective.confirm_signature(p, token)


def standing_objection(s: Scenario, area: str = WARD, signers: int = 3) -> int:
    """An objection in ``area`` signed by ``signers`` residents (the threshold)."""
    p = s.staff.platform
    p.settings.collective_objection_threshold = signers
    o = collective.file_collective(p, PUBLIC_ACTOR, area, CollectiveObjectionIn(
        text="We the residents of Vauxhall object to live facial recognition here.",
        email="r0@example.org"), client="203.0.113.1")
    _confirm_all(s, o.id)  # the starter's: published
    for i in range(1, signers):
        collective.sign(p, PUBLIC_ACTOR, o.id, FollowIn(email=f"r{i}@example.org"),
                        client=f"203.0.113.{i + 1}")
    _confirm_all(s, o.id)
    return o.id


def prepared(s: Scenario, **plan: Any) -> None:
    s.draft(technology_id=s.equity_audit(), **plan)
    s.publish_notice()
    s.records()
    s.clock.now = START - timedelta(hours=12)
    ok(s.staff["planner"].post(s.url("/watchlist/build")))


def gate(s: Scenario) -> dict[str, Any]:
    gates = ok(s.staff["authoriser"].get(s.url("/gates")))["gates"]
    return next(g for g in gates if g["name"] == "consultation_and_objections")


def refused(s: Scenario) -> None:
    g = gate(s)
    assert not g["passed"] and "no oversight hearing" in g["reason"], g["reason"]
    r = s.staff["authoriser"].post(s.url("/authorise"))
    assert r.status_code == 409, r.text
    asked = s.staff["authoriser"].post(s.url("/authorise"), json={
        "override_justification": "Urgent operation; the hearing will follow next week."})
    assert asked.status_code == 409 and "never" in asked.text.lower(), asked.text


def test_a_ward_objection_binds_a_deployment_naming_its_ward(scenario: Scenario) -> None:
    standing_objection(scenario)
    prepared(scenario)
    refused(scenario)


def test_a_ward_objection_binds_a_deployment_naming_only_the_borough(
        scenario: Scenario) -> None:
    s = scenario
    oid = standing_objection(s)
    prepared(s, ward=None)
    refused(s)
    with s.staff.platform.sessions() as db:  # and it is shown where it stands
        objection = db.get(m.CollectiveObjection, oid)
        assert objection is not None and objection.deployment_id == s.deployment_id


def test_a_decoy_does_not_soak_up_the_objection(scenario: Scenario) -> None:
    s = scenario
    oid = standing_objection(s)
    s.draft(title="Decoy")
    decoy = s.deployment_id
    ok(s.staff["planner"].post(s.url("/propose")))  # the standing objection attaches here
    ok(s.staff["planner"].post(s.url("/cancel"), json={
        "reason": "Plans changed; this operation is not going ahead."}))
    with s.staff.platform.sessions() as db:
        objection = db.get(m.CollectiveObjection, oid)
        assert objection is not None and objection.deployment_id == decoy
    prepared(s)
    refused(s)
    # Once oversight has heard it, it binds no one.
    collective.record_hearing(s.staff.platform, OVERSIGHT, oid, HearingIn(
        held_on=s.clock.now.date(), record="The board heard eleven residents and the force; "
        "the force agreed to keep the cameras away from the estate entrance."))
    assert gate(s)["passed"]


def test_an_objection_elsewhere_binds_no_one(scenario: Scenario) -> None:
    standing_objection(scenario, "Hackney/Dalston")
    prepared(scenario)
    assert gate(scenario)["passed"]


def test_no_failure_an_override_could_set_aside_hides_the_objection(
        scenario: Scenario) -> None:
    """The consultation left open (a failure two signatures may set aside) used to be
    reported first, so an override went through over the unheard objection."""
    s = scenario
    standing_objection(s)
    s.draft(technology_id=s.equity_audit())
    s.publish_notice()
    s.engage()
    s.open_consultation()
    s.assess()
    s.object_and_answer()
    s.watchlist()
    s.clock.now = START - timedelta(hours=12)
    ok(s.staff["planner"].post(s.url("/watchlist/build")))
    refused(s)


def test_one_mailbox_signs_once(scenario: Scenario) -> None:
    """Four spellings of one inbox were four signatures: a collective objection's count
    must mean people, and one of a borough now binds every deployment in it."""
    s = scenario
    p = s.staff.platform
    p.settings.collective_objection_threshold = 3
    o = collective.file_collective(p, PUBLIC_ACTOR, WARD, CollectiveObjectionIn(
        text="We the residents of Vauxhall object to live facial recognition here.",
        email="mallory@example.org"), client="203.0.113.1")
    _confirm_all(s, o.id)
    for i, spelling in enumerate(("Mallory@example.org", "MALLORY@Example.ORG",
                                  "mallory+2@example.org")):
        collective.sign(p, PUBLIC_ACTOR, o.id, FollowIn(email=spelling),
                        client=f"203.0.113.{i + 2}")
    _confirm_all(s, o.id)
    [listed] = ok(s.staff.anon.get("/api/public/areas/lambeth--vauxhall/collective-objections"))
    assert listed["signatures"] == 1
    collective.sign(p, PUBLIC_ACTOR, o.id, FollowIn(email="Neighbour@Example.org"),
                    client="203.0.113.9")
    _confirm_all(s, o.id)
    [listed] = ok(s.staff.anon.get("/api/public/areas/lambeth--vauxhall/collective-objections"))
    assert listed["signatures"] == 2
