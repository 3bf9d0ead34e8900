"""The operator console page over HTTP, without JavaScript: it lists the alerts with both
photos (or a placeholder saying why one is gone), the counters and the deployment's
status; its forms adjudicate, record outcomes, activate and complete through the staff
paths (CSRF checked, role checked, refusals explained on the page)."""

from __future__ import annotations

import re
from typing import Any

from console_helpers import active_with_photo, authorised_with_photo, post_alert
from platform_helpers import START, Scenario, ok
from portal_helpers import csrf_from

from openlfr.services.retention import apply_retention


def console_url(s: Scenario) -> str:
    return f"/staff/deployments/{s.deployment_id}/console"


def card(html: str, alert_id: int) -> str:
    """The HTML of one alert's card."""
    match = re.search(rf'<li [^>]*id="alert-{alert_id}".*?</li>', html, re.S)
    assert match, f"no card for alert {alert_id}"
    return match.group(0)


def counter(html: str, name: str) -> int:
    match = re.search(rf'data-test="counter-{name}">(\d+)<', html)
    assert match, name
    return int(match.group(1))


def alert_of(s: Scenario, alert_id: int) -> Any:
    return next(a for a in ok(s.staff["operator"].get(s.url("/alerts"))) if a["id"] == alert_id)


def test_console_lists_alerts_pending_first_with_both_photos(scenario: Scenario) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    node = s.staff.node(s.deployment_id)
    older = post_alert(s, node, entry_id, "alert-older-1", camera="cam-north")
    s.clock.advance(minutes=5)
    decided = post_alert(s, node, entry_id, "alert-decided-1")
    ok(s.staff["operator"].post(f"/api/alerts/{decided['id']}/adjudication",
                                json={"adjudication": "false_match"}))
    s.clock.advance(minutes=5)
    newest = post_alert(s, node, entry_id, "alert-newest-1", score=0.8123, with_photo=False)
    ok(node.post(f"/api/node/deployments/{s.deployment_id}/counters", json={
        "batch_id": "batch-0001", "faces_seen": 321, "tracks": 40, "frames_dropped": 3,
        "frames_near_behind": 17}), 201)

    r = s.staff["operator"].get(console_url(s))
    assert r.status_code == 200
    html = r.text
    assert s.reference in html and 'data-test="console-status"' in html
    assert "Active: alerts appear here" in html
    # Waiting for a decision first (newest first), then the decided one.
    order = [int(i) for i in re.findall(r'data-alert-id="(\d+)"', html)]
    assert order == [newest["id"], older["id"], decided["id"]]
    first = card(html, older["id"])
    assert f'src="/api/alerts/{older["id"]}/probe.jpg"' in first
    assert f'src="/api/alerts/{older["id"]}/reference.jpg"' in first
    assert "cam-north" in first and "0.710" in first and "missing person" in first
    assert START.strftime("%Y-%m-%d %H:%M:%S") in first
    assert "Waiting for a decision" in first
    no_photo = card(html, newest["id"])
    assert 'data-test="probe-photo"' not in no_photo
    assert "The engine sent no camera photo" in no_photo and "0.812" in no_photo
    assert "Dismissed: false alert" in card(html, decided["id"])
    # Forms that work without JavaScript, each with the CSRF token.
    csrf = csrf_from(html)
    assert html.count(f'value="{csrf}"') >= 7
    assert f'action="http://testserver{console_url(s)}/alerts/{older["id"]}/adjudication"' in first
    assert 'data-test="outcome-form"' in first and "<fieldset disabled>" in first
    assert "only for false-alert equity reporting" in first.lower()
    # Counters, and where the live stream resumes.
    assert (counter(html, "faces_seen"), counter(html, "alerts"), counter(html, "pending"),
            counter(html, "false_alerts"), counter(html, "frames_dropped"),
            counter(html, "frames_near_behind")) == (321, 3, 2, 1, 3, 17)
    assert "Frames searched near the tracks to keep up" in html
    assert re.search(rf'data-live-url="/api/deployments/{s.deployment_id}/live\?after=\d+"',
                     html)
    assert 'src="/static/console.js"' in html or "/static/console.js" in html
    js = s.staff.anon.get("/static/console.js")
    assert js.status_code == 200 and "EventSource" in js.text


def test_adjudicate_and_record_the_outcome_without_javascript(scenario: Scenario) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    alert = post_alert(s, s.staff.node(s.deployment_id), entry_id, "alert-nojs-01")
    operator = s.staff["operator"]
    csrf = csrf_from(operator.get(console_url(s)).text)
    base = f"{console_url(s)}/alerts/{alert['id']}"

    # The outcome waits for a decision.
    r = operator.post(f"{base}/outcome", data={"csrf_token": csrf, "outcome": "arrest"})
    assert r.status_code == 409 and "adjudicate the alert" in card(r.text, alert["id"])
    # A form from elsewhere changes nothing.
    r = operator.post(f"{base}/adjudication", data={"csrf_token": "0" * 64,
                                                    "adjudication": "true_match"})
    assert r.status_code == 403
    r = operator.post(f"{base}/adjudication", data={"csrf_token": csrf,
                                                    "adjudication": "maybe"})
    assert r.status_code == 422 and "adjudication" in card(r.text, alert["id"])
    assert alert_of(s, alert["id"])["adjudication"] == "pending"

    r = operator.post(f"{base}/adjudication", data={"csrf_token": csrf,
                                                    "adjudication": "true_match"},
                      follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"{console_url(s)}?done=adjudicated#alert-{alert['id']}")
    page = operator.get(r.headers["location"]).text
    assert "The decision was recorded." in page
    assert "Confirmed: true match" in card(page, alert["id"])

    r = operator.post(f"{base}/outcome", data={"csrf_token": csrf, "outcome": "teleported"})
    assert r.status_code == 422 and "outcome" in card(r.text, alert["id"])
    r = operator.post(f"{base}/outcome", data={
        "csrf_token": csrf, "outcome": "arrest", "demographic_group": "  White  "},
        follow_redirects=False)
    assert r.status_code == 303
    recorded = alert_of(s, alert["id"])
    assert (recorded["outcome"], recorded["demographic_group"]) == ("arrest", "White")
    page = operator.get(console_url(s)).text
    assert "Arrested" in card(page, alert["id"])
    assert counter(page, "confirmed") == 1 and counter(page, "pending") == 0
    # The public figures say the same.
    public = s.staff.anon.get(f"/api/public/deployments/{s.reference}").json()
    assert public["figures"]["confirmed"] == 1

    # Only this deployment's alerts, and only operators decide.
    r = operator.post(f"{console_url(s)}/alerts/999/adjudication",
                      data={"csrf_token": csrf, "adjudication": "true_match"})
    assert r.status_code == 404
    authoriser = s.staff["authoriser"]
    page = authoriser.get(console_url(s)).text
    assert 'data-test="adjudicate-form"' not in page and "Arrested" in page
    r = authoriser.post(f"{base}/adjudication", data={"csrf_token": csrf_from(page),
                                                      "adjudication": "false_match"})
    assert r.status_code == 403
    assert alert_of(s, alert["id"])["adjudication"] == "true_match"


def test_only_operators_and_authorisers_open_the_console(scenario: Scenario) -> None:
    s = scenario
    active_with_photo(s)
    r = s.staff.anon.get(console_url(s), follow_redirects=False)
    assert r.status_code == 303 and "/staff/login?next=" in r.headers["location"]
    for role in ("planner", "oversight", "admin"):
        r = s.staff[role].get(console_url(s))
        assert r.status_code == 403, role
        assert "operator, authoriser" in r.text
    assert s.staff["authoriser"].get(console_url(s)).status_code == 200
    r = s.staff["operator"].get("/staff/deployments/999/console")
    assert r.status_code == 404 and "deployment 999 does not exist" in r.text
    assert s.staff["operator"].get("/staff/deployments/99999999999/console").status_code == 404


def test_activate_after_confirming_with_refusals_explained(scenario: Scenario) -> None:
    s = scenario
    authorised_with_photo(s)
    operator = s.staff["operator"]
    html = operator.get(console_url(s)).text
    assert "Authorised, not active yet" in html
    assert re.search(r'<details [^>]*data-control="activate" data-test="activate" >', html)
    assert re.search(r'data-control="complete" data-test="complete" hidden', html)
    csrf = csrf_from(html)

    r = operator.post(f"{console_url(s)}/activate", data={"csrf_token": csrf})
    assert r.status_code == 422 and "Confirm that you want to activate" in r.text
    r = operator.post(f"{console_url(s)}/activate", data={"csrf_token": csrf, "confirm": "yes"})
    assert r.status_code == 409 and 'data-test="console-error"' in r.text  # before the start
    assert ok(operator.get(s.url("")))["status"] == "authorised"

    # An objection nobody has answered yet: the answer gate fails, and the page says why.
    ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "objection", "text": "Please do not scan faces at the station."}), 201)
    s.clock.now = START
    r = operator.post(f"{console_url(s)}/activate", data={"csrf_token": csrf, "confirm": "yes"})
    assert r.status_code == 409 and 'data-test="failing-gates"' in r.text
    assert ok(operator.get(s.url("")))["status"] == "authorised"

    feedback = ok(s.staff["planner"].get(s.url("/feedback")))
    for f in feedback:
        if not f["answer"]:
            ok(s.staff["planner"].post(f"/api/feedback/{f['id']}/answer", json={
                "answer": "The deployment is at the station for one day; see the notice.",
                "outcome": "answered" if f["kind"] == "question" else "not_upheld"}))
    r = operator.post(f"{console_url(s)}/activate", data={"csrf_token": csrf, "confirm": "yes"},
                      follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=activated")
    html = operator.get(r.headers["location"]).text
    assert "The deployment is active" in html and "Active: alerts appear here" in html
    assert re.search(r'data-control="activate" data-test="activate" hidden', html)


def test_complete_after_confirming_then_photos_are_gone(scenario: Scenario) -> None:
    s = scenario
    entry_id = active_with_photo(s)
    alert = post_alert(s, s.staff.node(s.deployment_id), entry_id, "alert-finish-1")
    operator = s.staff["operator"]
    html = operator.get(console_url(s)).text
    assert re.search(r'<details [^>]*data-control="complete" data-test="complete" >', html)
    csrf = csrf_from(html)
    r = operator.post(f"{console_url(s)}/complete", data={"csrf_token": csrf},
                      follow_redirects=False)
    assert r.status_code == 422
    assert ok(operator.get(s.url("")))["status"] == "active"
    r = operator.post(f"{console_url(s)}/complete", data={"csrf_token": csrf, "confirm": "yes"},
                      follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=completed")
    html = operator.get(r.headers["location"]).text
    assert "the watchlist was destroyed" in html
    assert "delivers late still appears here until" in html
    assert not re.search(r'data-control="complete" data-test="complete" >', html)
    gone = card(html, alert["id"])
    assert 'data-test="reference-photo"' not in gone
    assert "the watchlist was destroyed when the deployment ended" in gone
    assert 'data-test="probe-photo"' in gone  # kept until its own retention ends

    s.clock.advance(hours=s.staff.platform.settings.probe_crop_retention_hours + 1)
    apply_retention(s.staff.platform)
    gone = card(operator.get(console_url(s)).text, alert["id"])
    assert 'data-test="probe-photo"' not in gone and "when its retention ended" in gone
