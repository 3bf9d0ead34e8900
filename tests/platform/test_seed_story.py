"""The story openlfr was started for, replayed through the API, and refused at each step
with a plain reason: a council asks to suspend LFR; the force types the borough its own
way; one authoriser tries to override a deployment with two days' notice, an empty
watchlist and an assessment whose only mention of residents is a press line; after the
deployment has run, a planner claims a thousand residents at a meeting dated in the
future and edits the record. None of it gets through; what does get through is the
accountable route, and it is marked as such."""

from __future__ import annotations

from datetime import timedelta

from platform_helpers import (
    AREA_PROFILE,
    ASKED_BECAUSE,
    COUNTERSIGNED_BECAUSE,
    DECISION,
    EQUALITY,
    MITIGATIONS,
    RISKS,
    START,
    Scenario,
    ok,
)

PRESS_LINE = ("Any press enquiries will be handled by the press office, which will reassure "
              "residents that the deployment is intelligence-led and proportionate. The high "
              "street is busy, with shops, a market, a station and a bus interchange, and it "
              "has seen a rise in reported robbery over the past year according to force data.")
ONE_SENTENCE = "Operational necessity: the community was informed on social media on 2 March."


def test_the_seed_story_is_refused_at_each_step_with_a_plain_reason(
        scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    planner, authoriser, anon = staff["planner"], staff["authoriser"], staff.anon
    tech = s.equity_audit()

    # The council passes a motion to suspend LFR in "Newham".
    motion = ok(staff["councillor"].post("/api/motions", json={
        "body": "Newham Council", "passed_on": "2026-02-20", "stance": "suspend",
        "summary": "Suspend live facial recognition in the borough.",
        "points": ["Suspend live facial recognition in Newham.",
                   "Give residents at least four weeks' notice of any deployment."],
        "areas": ["Newham"]}), 403)  # this councillor acts for Lambeth only
    motion = ok(staff["oversight"].post("/api/motions", json={
        "body": "Newham Council", "passed_on": "2026-02-20", "stance": "suspend",
        "summary": "Suspend live facial recognition in the borough.",
        "points": ["Suspend live facial recognition in Newham.",
                   "Give residents at least four weeks' notice of any deployment."],
        "areas": ["Newham"]}), 201)

    # Two days before the start, the force drafts it, spelling the borough its own way.
    s.clock.now = START - timedelta(days=2, hours=1)
    r = planner.post("/api/deployments", json=s.deployment_body(borough="Newham Borugh",
                                                                 ward=None))
    assert r.status_code == 422 and "did you mean: Newham" in r.json()["detail"][0]["msg"]
    d = s.draft(borough="London Borough of Newham", ward="Stratford", technology_id=tech)
    assert (d["borough_code"], d["ward_code"]) == ("newham", "newham--stratford")
    ok(planner.post(s.url("/propose")))
    ok(planner.post(s.url("/publish-notice")))
    # One place: the motion for "Newham" covers it, and so does the Newham feed.
    assert s.reference in anon.get("/areas/newham/deployments.ics").text
    assert "Newham Council (2026-02-20, suspend)" in {
        g["name"]: g for g in ok(planner.get(s.url("/gates")))["gates"]}[
        "council_motions"]["reason"]

    # The assessment's only mention of residents is a press line: not published.
    ok(planner.put(s.url("/assessment"), json={
        "area_profile": PRESS_LINE, "risks": RISKS, "mitigations": MITIGATIONS,
        "equality_impact": EQUALITY, "decision": DECISION}))
    r = planner.post(s.url("/assessment/publish"))
    assert r.status_code == 409 and "never describes who lives there" in r.json()["detail"]

    # One authoriser overrides everything with one sentence: refused, nothing moves.
    r = authoriser.post(s.url("/authorise"), json={"override_justification": ONE_SENTENCE})
    assert r.status_code == 409
    refusal = r.json()
    assert "can never be overridden" in refusal["detail"]
    never = {g["name"] for g in refusal["failing_gates"] if g["override_refusal"]}
    assert never == {"notice_period", "impact_assessment", "watchlist_rules",
                     "council_motions"}
    assert ok(planner.get(s.url()))["status"] == "notice_published"
    public = ok(anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["overrides"] == [] and public["status_text"] == "notice published"

    # The accountable route: new dates with real notice, engagement with residents, the
    # consultation, a real assessment, every point of the motion answered in public, and
    # an override that two people sign.
    ok(planner.post(s.url("/reschedule"), json={
        "start_at": (START + timedelta(days=20)).isoformat(),
        "end_at": (START + timedelta(days=20, hours=8)).isoformat(),
        "reason": "Two days' notice was not enough; notice now runs three weeks."}))
    start = START + timedelta(days=20)
    s.engage()
    s.consult()
    ok(planner.put(s.url("/assessment"), json={
        "area_profile": AREA_PROFILE, "risks": RISKS, "mitigations": MITIGATIONS,
        "equality_impact": EQUALITY, "decision": DECISION}))
    ok(planner.post(s.url("/assessment/publish")))
    s.object_and_answer()
    s.watchlist()
    s.clock.now = start - timedelta(hours=12)
    ok(planner.post(s.url("/watchlist/build")))
    r = authoriser.post(f"/api/motions/{motion['id']}/response", json={
        "response": "We have considered the motion and answer each point below."})
    assert r.status_code == 422 and "answer each point" in r.text
    ok(authoriser.post(f"/api/motions/{motion['id']}/response", json={
        "response": "We have considered the motion and answer each point below.",
        "point_answers": ["Not suspended for this deployment: see the assessment.",
                          "Notice for this deployment now runs three weeks."]}))
    r = authoriser.post(s.url("/authorise"))
    assert r.status_code == 409  # a response alone never lifts a motion to suspend
    override = s.override()
    assert [g["name"] for g in override["failing_gates"]] == ["council_motions"]
    s.clock.now = start
    ok(staff["operator"].post(s.url("/activate")))
    ok(staff["operator"].post(s.url("/complete")))
    public = ok(anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["status_text"] == "completed (authorised despite 1 failed check)"
    assert [o["countersignature"] for o in public["overrides"]] == [COUNTERSIGNED_BECAUSE]
    assert public["overrides"][0]["justification"] == ASKED_BECAUSE
    reach = public["engagement_events"]

    # After it ran: a meeting dated in the future claiming 1,000 residents is refused ...
    claim = {"held_on": (s.clock.now + timedelta(days=3)).date().isoformat(),
             "format": "public_meeting", "audience": "residents", "attendees": 1000,
             "met_with": "Stratford residents"}
    r = planner.post(s.url("/engagement"), json=claim)
    assert r.status_code == 422 and "is in the future" in r.json()["detail"][0]["msg"]
    r = planner.post(s.url("/engagement"), json={**claim, "held_on": start.date().isoformat()})
    assert r.status_code == 422 and "after the deployment was authorised" in r.text
    r = planner.post(s.url("/amendments"), json={
        "record": "engagement", "event": claim,
        "reason": "A large meeting with residents, logged afterwards."})
    assert r.status_code == 422 and "is in the future" in r.text
    # ... and so is an edit of the record it ran on.
    r = planner.put(s.url("/assessment"), json={
        "area_profile": AREA_PROFILE, "risks": RISKS, "mitigations": MITIGATIONS,
        "equality_impact": EQUALITY, "decision": "Proceeded with full community support."})
    assert r.status_code == 409 and "frozen" in r.json()["detail"]
    r = planner.put(s.url(f"/engagement/{reach[0]['id']}"), json={
        **{k: reach[0][k] for k in ("held_on", "format", "audience", "met_with")},
        "attendees": 1000})
    assert r.status_code == 409 and "frozen" in r.json()["detail"]
    after = ok(anon.get(f"/api/public/deployments/{s.reference}"))
    assert after["engagement_events"] == reach
    assert after["assessment"]["decision"] == DECISION and after["amendments"] == []
