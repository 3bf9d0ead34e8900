"""Text a hostile client sends: control characters are refused (422) in every text field
and stripped from what was stored before; values JSON cannot carry back (NaN, a lone
surrogate) get a 422 that does not echo them, never a 500."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from platform_helpers import Scenario, Staff, ok

from openlfr.services.schemas import plain_text
from openlfr.storage import models as m


def _raw(client: object, url: str, text: str) -> object:
    return client.post(url, content=text.encode("utf-8", "surrogatepass"),  # type: ignore[attr-defined]
                       headers={"content-type": "application/json"})


@pytest.mark.parametrize("text", [
    '{"kind": "objection", "text": "a lone \\ud800 surrogate"}',
    '{"kind": "objection", "text": "line one\\u000bline two"}',
    '{"kind": "objection", "text": "bell \\u0007 here"}',
    '{"kind": "objection", "text": "reversed \\u202e txet"}',
    '{"kind": "objection", "text": NaN}',
    '{"kind": "objection", "text": "fine text", "contact": Infinity}',
])
def test_public_feedback_refuses_hostile_text_without_echo(scenario: Scenario, text: str) -> None:
    scenario.draft()
    ok(scenario.staff["planner"].post(scenario.url("/propose")))
    ok(scenario.staff["planner"].post(scenario.url("/publish-notice")))
    r = _raw(scenario.staff.anon, f"/api/public/deployments/{scenario.reference}/feedback", text)
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert all("input" not in error for error in body["detail"])
    with scenario.staff.platform.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.Feedback)) == 0


@pytest.mark.parametrize("field,value", [
    ("threshold", "NaN"), ("threshold", "Infinity"), ("camera_count", "NaN"),
])
def test_numbers_json_cannot_carry_are_refused(staff: Staff, field: str, value: str) -> None:
    r = _raw(staff["planner"], "/api/deployments", f'{{"title": "A title", "{field}": {value}}}')
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert value not in r.text  # type: ignore[attr-defined]


def test_site_coordinates_and_descriptors_nan(scenario: Scenario) -> None:
    body = scenario.deployment_body()
    text = json.dumps(body).replace("51.4952", "NaN")
    r = _raw(scenario.staff["planner"], "/api/deployments", text)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "lat"
    scenario.draft()
    ok(scenario.staff["planner"].post(scenario.url("/watchlist"),
                                      json={"descriptor_model": "dlib-resnet-v1"}), 201)
    entry = ('{"subject_ref": "A", "category": "wanted_for_arrest", "source": "PNC", '
             '"authorised_by": "Insp", "image_taken_on": "2026-01-10", "descriptors": [['
             + ", ".join(["NaN"] * 128) + ']]}')
    r = _raw(scenario.staff["planner"], scenario.url("/watchlist/entries"), entry)
    assert r.status_code == 422, r.text


def test_consultation_answers_nan_and_control_characters(scenario: Scenario) -> None:
    scenario.draft()
    planner = scenario.staff["planner"]
    ok(planner.post(scenario.url("/propose")))
    ok(planner.post(scenario.url("/publish-notice")))
    url = f"/api/public/consultations/{scenario.open_consultation()}/responses"
    for text in ('{"answers": {"q1": NaN}}', '{"answers": {"q1": "a\\u001bb"}}',
                 '{"answers": {"q\\udfff": "fine"}}'):
        r = _raw(scenario.staff.anon, url, text)
        assert r.status_code == 422, (text, r.text)


def test_a_vertical_tab_in_a_title_is_refused(scenario: Scenario) -> None:
    r = scenario.staff["planner"].post("/api/deployments", json=scenario.deployment_body(
        title="Vauxhall\x0bhigh street"))
    assert r.status_code == 422 and "U+000B" in r.text


def test_a_stored_vertical_tab_does_not_break_the_feed(scenario: Scenario) -> None:
    import feedparser

    scenario.draft()
    ok(scenario.staff["planner"].post(scenario.url("/propose")))
    ok(scenario.staff["planner"].post(scenario.url("/publish-notice")))
    # Stored before the rule (or by a migration): written straight to the table.
    with scenario.staff.platform.sessions.begin() as s:
        s.get(m.Deployment, scenario.deployment_id).title = "Vauxhall\x0bhigh street"  # type: ignore[union-attr]
    r = scenario.staff.anon.get("/areas/lambeth/deployments.atom")
    assert r.status_code == 200, r.text
    feed = feedparser.parse(r.content)
    assert not feed.bozo and "Vauxhall high street" in feed.entries[0].title


def test_plain_text_allows_tabs_and_line_breaks() -> None:
    assert plain_text("one\ttwo\r\nthree\n") == "one\ttwo\r\nthree\n"
    assert plain_text("emoji 👩‍👩‍👧 and accents é") == "emoji 👩‍👩‍👧 and accents é"
    for bad in ("\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ud800", "\u202e"):
        with pytest.raises(ValueError, match="control characters"):
            plain_text(f"a{bad}b")
