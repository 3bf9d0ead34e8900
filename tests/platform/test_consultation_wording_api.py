"""Recorded reasons for keeping flagged consultation wording, over the JSON API: who may
record them, what a reason must be, what it covers, when it lapses, and that it is
published with the consultation."""

from __future__ import annotations

import json
from typing import Any

from platform_helpers import Scenario, ok

BENEFITS = "Finding people wanted by a court more quickly than officers could alone."
RISKS = ("The cameras see everyone who passes, which affects privacy. False alerts can lead "
         "to people being stopped who are not wanted, and accuracy can differ between "
         "demographic groups. Some people may avoid the area; faces that match nobody are "
         "deleted at once.")
NEUTRAL = "What do you think about the use of live facial recognition here?"
COUNTERSIGNED = ("The board read the council survey this repeats; keeping its wording lets "
                 "the answers be compared, and the neutral question comes first.")
LEADING = "Would you support live facial recognition at the station?"
REASON = ("We repeat the council's 2024 survey question word for word so that the answers "
          "can be compared with it.")


def _save(s: Scenario, *questions: str, benefits: str = BENEFITS, risks: str = RISKS) -> Any:
    return ok(s.staff["planner"].put(s.url("/consultation"), json={
        "benefits": benefits, "risks": risks, "questions": [{"text": q} for q in questions]}))


def _keep(s: Scenario, where: str, reason: str = REASON, role: str = "planner") -> Any:
    return s.staff[role].put(s.url(f"/consultation/wording-exceptions/{where}"),
                             json={"reason": reason})


def test_a_reason_lets_flagged_wording_open_and_is_published(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    s.publish_notice()
    c = _save(s, NEUTRAL, LEADING)
    assert [(i["where"], i["rule"], i["kept"]) for i in c["wording_issues"]] == [
        ("q2", "asks_for_support", False)]
    assert c["wording_issues"][0]["suggestion"].startswith("Ask for views")
    r = s.staff["planner"].post(s.url("/consultation/open"))
    assert r.status_code == 409 and "record why it is kept" in r.json()["detail"]

    c = ok(_keep(s, "q2"))
    assert [i["kept"] for i in c["wording_issues"]] == [True]
    [exception] = c["wording_exceptions"]
    assert exception["where"] == "q2" and exception["reason"] == REASON
    assert exception["recorded_by"] == "planner" and exception["in_force"]
    assert exception["rules"] == ["asks_for_support"]

    # Kept wording needs two people: a member of oversight countersigns, in their words.
    r = s.staff["planner"].post(s.url("/consultation/open"))
    assert r.status_code == 409 and "countersign" in r.json()["detail"]
    countersign = s.url("/consultation/wording-exceptions/q2/countersign")
    assert s.staff["planner"].post(countersign, json={"reason": COUNTERSIGNED}
                                   ).status_code == 403
    assert s.staff["oversight"].post(countersign, json={"reason": "Fine."}).status_code == 422
    ok(s.staff["oversight"].post(countersign, json={"reason": COUNTERSIGNED}))
    opened = ok(s.staff["planner"].post(s.url("/consultation/open")))
    assert opened["status"] == "open"
    public = ok(s.staff.anon.get(f"/api/public/consultations/{c['id']}"))
    [kept] = public["kept_wording"]
    assert kept["where"] == "q2" and kept["reason"] == REASON
    assert kept["countersigned_by"] == "oversight" and kept["countersignature"] == COUNTERSIGNED
    assert kept["flags"][0]["excerpt"] == "Would you support"
    assert "wording_exceptions" not in public and "wording_issues" not in public
    # Once open the wording is frozen, and so is the reason.
    r = s.staff["planner"].delete(s.url("/consultation/wording-exceptions/q2"))
    assert r.status_code == 409 and "only change while it is a draft" in r.json()["detail"]
    audit = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    [event] = [e for e in audit if e["action"] == "consultation.wording_kept"]
    assert json.loads(event["details"])["reason"] == REASON


def test_a_reason_must_be_substantive_and_for_flagged_wording(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    _save(s, NEUTRAL, LEADING)
    r = _keep(s, "q2", "Because we want to.")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    assert "at least 40 characters" in r.json()["detail"][0]["msg"]
    r = _keep(s, "q1")
    assert r.status_code == 409 and "q1 is not flagged" in r.json()["detail"]
    assert _keep(s, "q7").status_code == 404
    assert _keep(s, "somewhere").status_code == 422  # not a place a flag can be
    assert _keep(s, "q2", role="authoriser").status_code == 403
    assert ok(s.staff["planner"].get(s.url("/consultation")))["wording_exceptions"] == []
    audit = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    assert not [e for e in audit if e["action"] == "consultation.wording_kept"]


def test_a_sheet_reason_lapses_only_when_the_sheet_is_rewritten(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    s.publish_notice()
    _save(s, LEADING, benefits="")
    ok(_keep(s, "information_sheet"))  # the missing benefits, kept on purpose
    c = _save(s, NEUTRAL, benefits="")  # only the question changed
    assert [e["where"] for e in c["wording_exceptions"]] == ["information_sheet"]
    assert [i["kept"] for i in c["wording_issues"]] == [True]
    c = _save(s, NEUTRAL, benefits="", risks=RISKS + " It is cutting-edge.")
    assert c["wording_exceptions"] == []  # the new wording needs its own reason
    assert {i["rule"] for i in c["wording_issues"]} == {"states_benefits", "promotional"}
    assert s.staff["planner"].post(s.url("/consultation/open")).status_code == 409
    ok(_keep(s, "information_sheet"))
    ok(s.staff["oversight"].post(s.url("/consultation/wording-exceptions/information_sheet/"
                                       "countersign"), json={"reason": COUNTERSIGNED}))
    assert ok(s.staff["planner"].post(s.url("/consultation/open")))["status"] == "open"


def test_rewriting_withdraws_the_reason_and_unchanged_wording_keeps_it(
        scenario: Scenario) -> None:
    s = scenario
    s.draft()
    _save(s, LEADING, NEUTRAL)
    ok(_keep(s, "q1"))
    c = _save(s, LEADING, NEUTRAL, "What, if anything, would change how you use the area?")
    assert [e["where"] for e in c["wording_exceptions"]] == ["q1"]  # q1 unchanged
    c = _save(s, NEUTRAL, LEADING)  # q1 now holds different text
    assert c["wording_exceptions"] == []
    assert s.staff["planner"].post(s.url("/consultation/open")).status_code == 409


def test_withdrawing_a_reason_blocks_opening_again(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    _save(s, LEADING)
    ok(_keep(s, "q1"))
    c = ok(s.staff["planner"].delete(s.url("/consultation/wording-exceptions/q1")))
    assert c["wording_exceptions"] == [] and not c["wording_issues"][0]["kept"]
    r = s.staff["planner"].delete(s.url("/consultation/wording-exceptions/q1"))
    assert r.status_code == 404
    assert s.staff["planner"].post(s.url("/consultation/open")).status_code == 409
    audit = ok(s.staff["admin"].get("/api/audit/events?limit=1000"))
    assert [e["action"] for e in audit if e["action"].startswith("consultation.wording")] == [
        "consultation.wording_kept", "consultation.wording_reason_withdrawn"]


def test_wording_check_runs_the_rules_without_saving(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    issues = ok(s.staff["planner"].post(s.url("/consultation/wording-check"), json={
        "benefits": "Keeps you safe.", "risks": "", "questions": [NEUTRAL, LEADING]}))
    assert {(i["where"], i["rule"]) for i in issues} == {
        ("information_sheet", "keeps_you_safe"), ("information_sheet", "describes_risks"),
        ("q2", "asks_for_support")}
    assert all(i["problem"] and i["suggestion"] and not i["kept"] for i in issues)
    assert s.staff["planner"].get(s.url("/consultation")).status_code == 404  # nothing saved
    r = s.staff["planner"].post("/api/deployments/999/consultation/wording-check", json={})
    assert r.status_code == 404
    r = s.staff["planner"].post(s.url("/consultation/wording-check"),
                                json={"questions": ["x" * 501]})
    assert r.status_code == 422
