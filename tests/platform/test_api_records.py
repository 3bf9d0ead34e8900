"""Governance records over HTTP: validation, atomicity, wording checks, motions, feedback,
and what the public may (and may not) see."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from platform_helpers import (
    START,
    FakeClock,
    Scenario,
    Staff,
    TestClient,
    make_settings,
    ok,
    route_table,
)
from sqlalchemy import func, select

from openlfr.services.platform import Platform
from openlfr.storage import models as m
from openlfr.web.app import api_routes


def _count(scenario: Scenario, model: type) -> int:
    with scenario.staff.platform.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_validation_errors_are_422_with_field_messages_and_change_nothing(
        scenario: Scenario) -> None:
    planner = scenario.staff["planner"]
    audit_before = _count(scenario, m.AuditEvent)
    body = scenario.deployment_body(threshold=1.5, camera_count=0, sites=[], title="\x00bad")
    r = planner.post("/api/deployments", json=body)
    assert r.status_code == 422
    fields = {tuple(e["loc"][1:]) for e in r.json()["detail"]}
    assert {("threshold",), ("camera_count",), ("sites",), ("title",)} <= fields
    assert all(e["msg"] for e in r.json()["detail"])
    start = scenario.clock.now + timedelta(days=30)
    r = planner.post("/api/deployments", json=scenario.deployment_body(
        start_at=start.isoformat(), end_at=(start - timedelta(hours=1)).isoformat()))
    assert r.status_code == 422 and "end_at must be after start_at" in r.text
    r = planner.post("/api/deployments", content=b"{not json",
                     headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = planner.post("/api/deployments", json={**scenario.deployment_body(), "colour": "red"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "colour"]
    r = planner.post("/api/deployments", json=scenario.deployment_body(technology_id=77))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "technology_id"]
    assert _count(scenario, m.Deployment) == 0
    assert _count(scenario, m.AuditEvent) == audit_before


def test_a_failure_inside_a_use_case_rolls_everything_back(
        scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    """The change and its audit event share one transaction: no half-done writes."""
    planner = scenario.staff["planner"]
    audit_before = _count(scenario, m.AuditEvent)
    import openlfr.services.deployments as deployments

    def broken_append(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(deployments, "append_event", broken_append)
    with pytest.raises(RuntimeError):
        planner.post("/api/deployments", json=scenario.deployment_body())
    assert _count(scenario, m.Deployment) == 0 and _count(scenario, m.Site) == 0
    assert _count(scenario, m.AuditEvent) == audit_before


def test_huge_ids_and_unknown_records_are_clean_errors(scenario: Scenario) -> None:
    planner = scenario.staff["planner"]
    assert planner.get("/api/deployments/99999999999999999999").status_code == 422
    assert planner.get("/api/deployments/0").status_code == 422
    r = planner.get("/api/deployments/42")
    assert r.status_code == 404 and r.json()["detail"] == "deployment 42 does not exist"
    assert scenario.staff.anon.get("/api/public/deployments/LFR-2026-9999").status_code == 404


def test_leading_consultation_cannot_open(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    s.draft()
    c = ok(planner.put(s.url("/consultation"), json={
        "benefits": "Keeps the high street safe.", "risks": "",
        "questions": [{"text": "Is this something that you think is a good idea, and would "
                               "support?", "options": ["yes", "no"]}]}))
    where = {i["where"] for i in c["wording_issues"]}
    assert where == {"information_sheet", "q1"}
    r = planner.post(s.url("/consultation/open"))
    assert r.status_code == 409 and "good idea" in r.json()["detail"]
    assert ok(planner.get(s.url("/consultation")))["status"] == "draft"
    # A draft consultation is not public, and takes no responses.
    r = s.staff.anon.post(f"/api/public/consultations/{c['id']}/responses",
                          json={"answers": {"q1": "yes"}})
    assert r.status_code == 404


def test_consultation_responses_are_validated_and_anonymous(scenario: Scenario) -> None:
    s, planner, anon = scenario, scenario.staff["planner"], scenario.staff.anon
    s.draft()
    s.publish_notice()
    cid = ok(planner.put(s.url("/consultation"), json={
        "benefits": "Finding wanted people.",
        "risks": "False alerts may lead to people being stopped wrongly; privacy of everyone "
                 "passing the camera is affected and errors may differ between groups. People "
                 "may avoid the area; faces that match nobody are deleted at once.",
        "questions": [{"text": "How would this change your use of the area?",
                       "options": ["more", "same", "less"]}]}))["id"]
    ok(planner.post(s.url("/consultation/open")))
    url = f"/api/public/consultations/{cid}/responses"
    r = anon.post(url, json={"answers": {"q1": "maybe"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "answers", "q1"]
    r = anon.post(url, json={"answers": {"q9": "more"}})
    assert r.status_code == 422
    r = anon.post(url, json={"answers": {"q1": "less"}, "email": "me@example.org"})
    assert r.status_code == 422  # nothing identifying is accepted
    r = anon.post(url, json={"answers": {"q1": "less"}, "postcode_district": "SE11 5AA"})
    assert r.status_code == 422  # a full postcode could identify; only the district is taken
    ok(anon.post(url, json={"answers": {"q1": "less"}}), 204)
    # A response counts once per client: a second one comes from another address.
    assert anon.post(url, json={"answers": {"q1": "more"}}).status_code == 429
    neighbour = TestClient(s.staff.app, base_url="http://testserver",
                           client=("203.0.113.7", 5000))
    ok(neighbour.post(url, json={"answers": {"q1": "same"}, "postcode_district": " se11 "}),
       204)
    assert [c["id"] for c in ok(anon.get("/api/public/consultations"))] == [cid]
    ok(planner.post(s.url("/consultation/close")))
    assert anon.post(url, json={"answers": {"q1": "less"}}).status_code == 409
    results = ok(planner.get(s.url("/consultation/results")))
    insufficient = results.pop("insufficient")
    assert results == {"responses": 2, "tallies": {"q1": {"more": 0, "same": 1, "less": 1}},
                       "by_district": {"SE11": 1}}
    assert "2 response(s), fewer than the 20 required" in insufficient


def test_council_motion_blocks_until_a_response_is_published(scenario: Scenario) -> None:
    """A motion setting conditions blocks until answered; one asking to stop LFR is
    never lifted by a response (tests/platform/test_overrides.py)."""
    s, staff = scenario, scenario.staff
    motion = ok(staff["oversight"].post("/api/motions", json={
        "body": "Lambeth Council", "passed_on": "2026-02-10", "stance": "conditions",
        "summary": "LFR only with four weeks' notice and published results.",
        "link": "https://example.org/motion", "areas": ["Lambeth"]}), 201)
    assert motion["areas"] == [{"code": "lambeth", "name": "Lambeth"}]
    s.prepare()
    r = staff["authoriser"].post(s.url("/authorise"))
    assert r.status_code == 409
    assert [g["name"] for g in r.json()["failing_gates"]] == ["council_motions"]
    ok(staff["authoriser"].post(f"/api/motions/{motion['id']}/response", json={
        "response": "We have paused planning for two months and commissioned a review."}))
    ok(staff["authoriser"].post(s.url("/authorise")))
    public = ok(staff.anon.get("/api/public/motions"))
    assert public[0]["response"].startswith("We have paused")


def test_assessment_publish_refused_while_incomplete_and_edit_unpublishes(
        scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    s.draft()
    s.publish_notice()
    a = ok(planner.put(s.url("/assessment"), json={"area_profile": "A busy high street.",
                                                   "decision": "Go."}))
    assert not a["complete"]
    assert a["engagement_summary"] == "No engagement events have been recorded."
    r = planner.post(s.url("/assessment/publish"))
    assert r.status_code == 409 and "never describes who lives there" in r.json()["detail"]
    s.engage()
    s.consult()
    s.assess()
    a = ok(planner.get(s.url("/assessment")))
    assert a["complete"] and a["published_at"] is not None
    assert "75% of attendees were at resident-facing events" in a["engagement_summary"]
    ok(planner.put(s.url("/assessment"), json={**{k: a[k] for k in (
        "area_profile", "risks", "mitigations", "equality_impact")}, "decision": a["decision"]
        + " Reviewed."}))
    assert ok(planner.get(s.url("/assessment")))["published_at"] is None


def test_feedback_deadline_privacy_and_moderation(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    url = f"/api/public/deployments/{s.reference}/feedback"
    assert staff.anon.post(url, json={"kind": "question", "text": "Why here?"}).status_code == 404
    ok(staff["planner"].post(s.url("/propose")))
    ok(staff["planner"].post(s.url("/publish-notice")))
    receipt = ok(staff.anon.post(url, json={
        "kind": "redress_request", "text": "I was stopped after an alert; I want my record.",
        "contact": "07700 900123"}), 201)
    assert receipt["answer_due_at"].startswith("2026-03-22")
    abusive = ok(staff.anon.post(url, json={"kind": "complaint", "text": "abusive words"}), 201)
    r = staff.anon.post(url, json={"kind": "praise", "text": "x"})
    assert r.status_code == 422 and {e["loc"][-1] for e in r.json()["detail"]} == {"kind",
                                                                                     "text"}
    ok(staff["planner"].post(f"/api/feedback/{abusive['id']}/hide",
                             json={"reason": "Racist abuse aimed at a named resident."}))

    assert ok(staff["planner"].get(s.url("/feedback")))[0]["contact"] == "07700 900123"
    assert ok(staff["oversight"].get(s.url("/feedback")))[0]["contact"] is None
    s.clock.advance(days=21)
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    items = {f["id"]: f for f in public["feedback"]}
    assert items[receipt["id"]]["overdue"] is True
    assert items[abusive["id"]]["text"] is None and items[abusive["id"]]["hidden_for_abuse"]
    assert "07700" not in str(public)
    # Passing it on is not an answer: it needs an outcome and a reason of substance.
    r = staff["planner"].post(f"/api/feedback/{receipt['id']}/answer",
                              json={"answer": "Your request has been passed to the DPO."})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "outcome"
    r = staff["planner"].post(f"/api/feedback/{receipt['id']}/answer", json={
        "answer": "Noted. Thank you for your feedback.", "outcome": "not_upheld"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "answer"
    ok(staff["planner"].post(f"/api/feedback/{receipt['id']}/answer", json={
        "answer": "Upheld: the alert and its probe image were deleted on 5 March and the "
                  "data protection officer has written to you with the record.",
        "outcome": "upheld"}))
    public = ok(staff.anon.get(f"/api/public/deployments/{s.reference}"))
    assert {f["id"]: f for f in public["feedback"]}[receipt["id"]]["overdue"] is False


def test_drafts_are_not_public(scenario: Scenario) -> None:
    s, anon = scenario, scenario.staff.anon
    s.draft()
    assert ok(anon.get("/api/public/deployments")) == []
    assert anon.get(f"/api/public/deployments/{s.reference}").status_code == 404
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    assert [d["reference"] for d in ok(anon.get("/api/public/deployments"))] == [s.reference]


def test_watchlist_rules_and_public_counts(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    s.draft()
    s.watchlist(image_taken_on="2020-01-01")
    ok(planner.post(s.url("/watchlist/build")))
    gates = {g["name"]: g for g in ok(planner.get(s.url("/gates")))["gates"]}
    reason = gates["watchlist_rules"]["reason"]
    assert "older than 365 days" in reason
    assert "more than 24 hours before the start" in reason
    # A category outside the policy is refused as the entry is added: its count is
    # published at once, so free text could name the person.
    for category in ("person_of_interest", "jane_roe_missing_from_care_home"):
        r = planner.post(s.url("/watchlist/entries"), json={
            "subject_ref": "Y", "category": category, "source": "PNC",
            "authorised_by": "Insp", "image_taken_on": "2026-01-01",
            "descriptors": [[0.1] * 128]})
        assert r.status_code == 422, r.text
        assert f"'{category}' is not an allowed watchlist category" in r.text
    r = planner.post(s.url("/watchlist/entries"), json={
        "subject_ref": "X", "category": "wanted_for_arrest", "source": "PNC",
        "authorised_by": "Insp", "image_taken_on": "2026-01-01",
        "descriptors": [[0.1] * 128, [0.1] * 64]})
    assert r.status_code == 422 and "same length" in r.text
    wl = ok(planner.get(s.url("/watchlist")))
    assert wl["entries"][0]["subject_ref"] == "CASE-123/A"
    assert "descriptors" not in wl["entries"][0]
    assert s.staff["oversight"].get(s.url("/watchlist")).status_code == 403


def test_technology_register_is_public(scenario: Scenario) -> None:
    tech = scenario.equity_audit(fair=0.6)
    register = ok(scenario.staff.anon.get("/api/public/technology"))
    assert register[0]["technology"]["id"] == tech
    assert register[0]["last_equity_audit"]["fair_threshold"] == 0.6


def test_threshold_gate_reads_the_latest_audit(scenario: Scenario) -> None:
    s = scenario
    tech = s.equity_audit(fair=0.66)
    s.draft(technology_id=tech)
    gates = {g["name"]: g for g in ok(s.staff["planner"].get(s.url("/gates")))["gates"]}
    assert not gates["threshold"]["passed"]
    assert "0.64 is below 0.66" in gates["threshold"]["reason"]


def test_no_public_route_reveals_personal_data(scenario: Scenario) -> None:
    """After a full deployment with every kind of record, fetch every public GET route:
    none may contain a subject reference, a feedback contact, a recorded demographic
    group or a descriptor."""
    from datetime import timedelta as td

    s, staff = scenario, scenario.staff
    s.prepare()
    event = ok(staff["planner"].get(s.url("/engagement")))[0]
    ok(staff["planner"].post(s.url(f"/engagement/{event['id']}/evidence"), files={
        "evidence": ("minutes.pdf", b"%PDF-1.4 minutes of the meeting", "application/pdf")}))
    ok(staff["authoriser"].post(s.url("/authorise")))
    s.clock.now = START
    ok(staff["operator"].post(s.url("/activate")))
    node = staff.node(s.deployment_id)
    entry = ok(node.get(f"/api/node/deployments/{s.deployment_id}/watchlist"))["entries"][0]
    alert = ok(node.post(f"/api/node/deployments/{s.deployment_id}/alerts", json={
        "alert_uid": "alert-0009", "occurred_at": s.clock.now.isoformat(), "camera": "c1",
        "track_id": "t1", "score": 0.8, "entry_id": entry["entry_id"]}), 201)
    ok(staff["operator"].post(f"/api/alerts/{alert['id']}/adjudication",
                              json={"adjudication": "true_match"}))
    # A force's own list of groups (a label no public page would hold by chance).
    staff.platform.settings.demographic_groups = ["group-zz", "Not stated"]
    ok(staff["operator"].post(f"/api/alerts/{alert['id']}/outcome",
                              json={"outcome": "arrest", "demographic_group": "group-zz"}))
    s.clock.now += td(hours=1)
    consultation_id = ok(staff["planner"].get(s.url("/consultation")))["id"]
    technology_id = ok(staff.anon.get("/api/public/technology"))[0]["technology"]["id"]
    checked = 0
    for path, methods in route_table(staff.app):
        if not path.startswith("/api/public/") or "GET" not in methods:
            continue
        concrete = path.replace("{reference}", s.reference).replace(
            "{consultation_id}", str(consultation_id)).replace("{event_id}", str(event["id"])
                                                               ).replace("{seq}", "1"
                                                               ).replace("{area}",
                                                                         "lambeth--vauxhall"
                                                               ).replace("{technology_id}",
                                                                         str(technology_id))
        response = staff.anon.get(concrete) if "{" not in concrete else None
        assert response is not None and response.status_code == 200, concrete
        text = str(response.json()) if concrete.startswith("/api/public/") and not (
            concrete.endswith(".pdf")) else response.text
        for private in ("CASE-123/A", "resident@example.org", "group-zz", "0.01, 0.02",
                        # a feedback's contact field (the register's ATRS record has
                        # a published contact_email for the force, which is not personal)
                        "descriptors", "subject_ref", "'contact'"):
            assert private not in text, (concrete, private)
        checked += 1
    assert checked >= 6


def test_corrections_are_possible_and_audited(scenario: Scenario) -> None:
    s, staff = scenario, scenario.staff
    s.draft()
    s.engage(residents=10, officials=30)
    events = ok(staff["planner"].get(s.url("/engagement")))
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert not gates["engagement_reach"]["passed"]
    fixed = {**{k: events[0][k] for k in ("held_on", "format", "audience", "met_with",
                                          "materials", "questions_raised")}, "attendees": 45}
    ok(staff["planner"].put(s.url(f"/engagement/{events[0]['id']}"), json=fixed))
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert gates["engagement_reach"]["passed"]
    assert staff["planner"].put(s.url("/engagement/999"), json=fixed).status_code == 404

    motion_body = {"body": "Lambeth Council", "passed_on": "2026-02-10", "stance": "oppose",
                   "summary": "Opposes LFR.", "areas": ["Lambeth"]}
    motion = ok(staff["oversight"].post("/api/motions", json=motion_body), 201)
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert not gates["council_motions"]["passed"]
    ok(staff["oversight"].put(f"/api/motions/{motion['id']}",
                              json={**motion_body, "areas": ["Southwark"]}))
    corrected = ok(staff["planner"].get(f"/api/motions/{motion['id']}"))
    assert [a["code"] for a in corrected["areas"]] == ["southwark"]
    gates = {g["name"]: g for g in ok(staff["planner"].get(s.url("/gates")))["gates"]}
    assert gates["council_motions"]["passed"]

    tech = ok(staff["admin"].post("/api/technology", json={
        "algorithm": "x", "model_version": "1", "vendor_or_project": "p",
        "default_threshold": 0.6}), 201)
    ok(staff["admin"].put(f"/api/technology/{tech['id']}", json={
        "algorithm": "dlib ResNet", "model_version": "1", "vendor_or_project": "openlfr",
        "default_threshold": 0.6}))
    actions = [e["action"] for e in ok(staff["admin"].get("/api/audit/events?limit=1000"))]
    assert {"engagement.corrected", "motion.corrected", "technology.corrected"} <= set(actions)


def test_oversized_bodies_are_refused_and_change_nothing(scenario: Scenario) -> None:
    s, planner = scenario, scenario.staff["planner"]
    s.draft()
    ok(planner.post(s.url("/watchlist"), json={"descriptor_model": "m"}), 201)
    limit = s.staff.platform.settings.max_request_bytes
    huge = {"subject_ref": "X", "category": "missing_person", "source": "s",
            "authorised_by": "a", "image_taken_on": "2026-01-01",
            "descriptors": [[0.123456789] * 4096] * 20, "padding": "x" * limit}
    r = planner.post(s.url("/watchlist/entries"), json=huge)
    assert r.status_code == 413
    assert ok(planner.get(s.url("/watchlist")))["entries"] == []


def test_apps_in_one_process_share_routes_but_keep_their_own_body_limit(
        scenario: Scenario, tmp_path: Path, clock: FakeClock) -> None:
    """The API's routes are built once per process (``api_routes``); the body limit and
    the platform stay each app's own."""
    s, planner = scenario, scenario.staff["planner"]
    s.draft()
    small = Platform.open(make_settings(tmp_path / "small", max_request_bytes=4096))
    small.clock = clock
    try:
        other = Staff(small)
        shared = {id(route) for route in api_routes()}
        assert shared <= {id(route) for route in other.app.router.routes}
        assert shared <= {id(route) for route in s.staff.app.router.routes}
        site = scenario.deployment_body()["sites"][0]
        body = scenario.deployment_body(sites=[{**site, "name": f"Site {i} " + "x" * 190}
                                                for i in range(20)])
        assert len(json.dumps(body)) > 6000
        assert other["planner"].post("/api/deployments", json=body).status_code == 413
        assert ok(other["planner"].get("/api/deployments")) == []
        created = ok(planner.post("/api/deployments", json=body), 201)
        assert len(created["sites"]) == 20
        ids = {d["id"] for d in ok(planner.get("/api/deployments"))}
        assert ids == {s.deployment_id, created["id"]}
    finally:
        small.close()
