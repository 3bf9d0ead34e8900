"""A closed question's choices are checked like its text, over the JSON API: a neutral
question with slanted choices (support three ways, no way to oppose, a loaded slogan) is
flagged and cannot open; a reason kept for its choices lapses when the choices are
rewritten, even if the question's text is not."""

from __future__ import annotations

from platform_helpers import Scenario, ok

BENEFITS = "Finding people wanted by a court more quickly than officers could alone."
RISKS = ("The cameras see everyone who passes, which affects privacy. False alerts can lead "
         "to people being stopped who are not wanted, and accuracy can differ between "
         "demographic groups. Some people may avoid the area; faces that match nobody are "
         "deleted at once.")
QUESTION = "What do you think about LFR on the high street?"
SLANTED = ["Strongly support", "Support", "Support with conditions",
           "Keep the criminals off our streets"]
BALANCED = ["Strongly support", "Tend to support", "Neither support nor oppose",
            "Tend to oppose", "Strongly oppose", "Don't know"]
REASON = ("We repeat the council's 2024 survey choices word for word so that the answers "
          "can be compared with it.")


def _save(s: Scenario, options: list[str]) -> dict[str, object]:
    return ok(s.staff["planner"].put(s.url("/consultation"), json={
        "benefits": BENEFITS, "risks": RISKS,
        "questions": [{"text": QUESTION, "options": options}]}))


def test_slanted_choices_are_flagged_and_stop_the_consultation_opening(
        scenario: Scenario) -> None:
    s = scenario
    s.draft()
    s.publish_notice()
    c = _save(s, SLANTED)
    assert [(i["where"], i["rule"], i["excerpt"]) for i in c["wording_issues"]] == [
        ("q1", "criminals", "criminals"), ("q1", "one_sided_choices", "")]
    assert all(i["problem"] and i["suggestion"] for i in c["wording_issues"])
    r = s.staff["planner"].post(s.url("/consultation/open"))
    assert r.status_code == 409
    assert "no way to oppose" in r.json()["detail"] and "'criminals'" in r.json()["detail"]

    c = _save(s, BALANCED)
    assert c["wording_issues"] == []
    assert ok(s.staff["planner"].post(s.url("/consultation/open")))["status"] == "open"


def test_a_reason_for_the_choices_lapses_when_the_choices_are_rewritten(
        scenario: Scenario) -> None:
    s = scenario
    s.draft()
    _save(s, SLANTED[:3] + ["Don't know"])
    c = ok(s.staff["planner"].put(s.url("/consultation/wording-exceptions/q1"),
                                  json={"reason": REASON}))
    assert [e["rules"] for e in c["wording_exceptions"]] == [["one_sided_choices"]]
    assert [i["kept"] for i in c["wording_issues"]] == [True]
    c = _save(s, SLANTED[:3] + ["Not sure"])  # the text is the same; the choices are not
    assert c["wording_exceptions"] == []
    assert [i["kept"] for i in c["wording_issues"]] == [False]
