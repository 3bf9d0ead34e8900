"""The public pages over HTTP: what they show for a realistic deployment, and what they
must never show (drafts, subject references, contact details)."""

from __future__ import annotations

import re

from platform_helpers import ASKED_BECAUSE, COUNTERSIGNED_BECAUSE, START, Scenario, ok
from portal_helpers import (
    answer_waiting_feedback,
    assert_no_personal_data,
    draft_elsewhere,
    publish_realistic_deployment,
)

from openlfr.web.pages import PUBLIC_PAGE_PATHS, STAFF_PAGE_PATHS
from openlfr.web.pages.rendering import when


def _section(html: str, test_id: str) -> str:
    """The HTML of the <section data-test=test_id> element."""
    match = re.search(rf'<section[^>]*data-test="{test_id}".*?</section>', html, re.S)
    assert match, f"no section {test_id}"
    return match.group(0)


def test_home_lists_published_deployments_with_gates_and_map(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    draft = draft_elsewhere(s)
    r = s.staff.anon.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    upcoming = _section(html, "phase-upcoming")
    assert f'data-reference="{s.reference}"' in upcoming
    assert "Vauxhall high street" in upcoming
    # Authorised: the gates shown are those the decision was based on, all passed.
    assert 'data-passed="7" data-total="7"' in upcoming and "authorised" in upcoming
    assert "None." in _section(html, "phase-active")
    assert draft["reference"] not in html and "Secret draft" not in html
    svg = re.search(r'<svg.*?</svg>', html, re.S)
    assert svg and "Station forecourt" in svg.group(0) and "Lambeth" in svg.group(0)
    assert f'data-reference="{s.reference}"' in svg.group(0)
    assert "http" not in svg.group(0).replace("http://www.w3.org/2000/svg", "")
    assert_no_personal_data(html)


def test_home_moves_deployments_to_active_and_past(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    s.clock.now = START
    # The question was filed inside the 48 hours before the start: due at once.
    r = s.staff["operator"].post(s.url("/activate"))
    assert r.status_code == 409 and "past their answer deadline" in r.text
    answer_waiting_feedback(s)
    ok(s.staff["operator"].post(s.url("/activate")))
    assert s.reference in _section(s.staff.anon.get("/").text, "phase-active")
    s.clock.advance(hours=8)
    ok(s.staff["operator"].post(s.url("/complete")))
    html = s.staff.anon.get("/").text
    assert s.reference in _section(html, "phase-past")
    assert s.reference not in _section(html, "phase-active")


def test_deployment_page_shows_everything_published(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    r = s.staff.anon.get(f"/deployments/{s.reference}")
    assert r.status_code == 200
    html = r.text
    assert 'data-test="reference">' + s.reference in html
    assert "Lambeth / Vauxhall" in html
    for text in ("Station forecourt", "Locate people wanted for robbery",
                 "robbery, violence against the person",
                 "Robbery reports near the station doubled", "Common law policing powers",
                 "A-boards at every entrance", "0.64"):
        assert text in html, text
    assert html.count('data-test="gate" ') == 7
    assert 'data-passed="false"' not in _section(html, "gates-section")
    watchlist = _section(html, "watchlist")
    assert 'data-category="wanted_for_arrest"><td>wanted for arrest</td><td>1</td>' in watchlist
    engagement = _section(html, "engagement")
    assert 'data-residents="60" data-officials="20"' in engagement
    assert "75%" in engagement and "at least 50% required" in engagement
    assessment = _section(html, "assessment")
    assert "Vauxhall ward is a mainly residential area" in assessment
    assert "2 engagement event(s) with 80 attendee(s)" in assessment
    consultation = _section(html, "consultation")
    assert 'data-test="consultation-status">closed' in consultation
    assert 'data-option="use it less">use it less: 1' in consultation
    assert "Worried" not in consultation  # free text is not published
    feedback = _section(html, "feedback")
    assert "I do not want my face scanned" in feedback
    assert "Faces that match nobody are discarded" in feedback
    assert "Will the van be there on market day?" in feedback
    # Asked 12 hours before the start, inside the 48-hour lead time: due at once.
    assert f"Awaiting answer, due {when(s.clock.now)}" in feedback
    motions = _section(html, "motions")
    assert "Lambeth Council" in motions and "Notice is given at least 14 days" in motions
    assert_no_personal_data(html)


def test_overrides_are_published_with_both_justifications(scenario: Scenario) -> None:
    s = scenario
    s.prepare()
    s.late_objection()
    s.override()
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    overrides = re.findall(r'<li data-test="override".*?</li>', html, re.S)
    assert len(overrides) == 1
    assert ASKED_BECAUSE in overrides[0] and COUNTERSIGNED_BECAUSE in overrides[0]
    assert "consultation and objections" in overrides[0]
    assert "Countersigned by oversight (oversight)" in overrides[0]
    assert "No council motion covers this area." in html


def test_motion_elsewhere_is_not_shown_on_the_deployment(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    ok(s.staff["oversight"].post("/api/motions", json={
        "body": "Hackney Council", "passed_on": "2026-02-11", "stance": "suspend",
        "summary": "Suspend LFR in Hackney.", "areas": ["Hackney"]}), 201)
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "Hackney Council" not in _section(html, "motions")


def test_drafts_and_unknown_references_are_not_found(scenario: Scenario) -> None:
    s = scenario
    draft = draft_elsewhere(s)
    for path in (f"/deployments/{draft['reference']}", "/deployments/LFR-2026-9999",
                 "/deployments/not-a-reference", "/deployments/LFR-2026-0001%3Cscript%3E"):
        r = s.staff.anon.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "Secret draft" not in r.text and "<script>" not in r.text
    ok(s.staff["planner"].post(f"/api/deployments/{draft['id']}/propose"))
    assert s.staff.anon.get(f"/deployments/{draft['reference']}").status_code == 404


def test_register_page_lists_technology_audits_and_motions(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    html = s.staff.anon.get("/register").text
    assert "dlib ResNet descriptor + cosine" in html
    assert 'data-test="fair-threshold">0.60' in html
    # The audited false alerts at the default threshold (0.64): the 0.60 row, as the
    # threshold check reads it.
    table = html.split('data-test="audited-false-alerts"')[1].split("</table>")[0]
    assert "<td>1,000</td><td>0.60</td>" in table and "<td>0.0006</td>" in table
    assert "Lambeth Council" in html and "Notice is given at least 14 days" in html
    assert_no_personal_data(html)


def test_register_page_flags_motions_without_response(scenario: Scenario) -> None:
    s = scenario
    ok(s.staff["oversight"].post("/api/motions", json={
        "body": "Hackney Council", "passed_on": "2026-02-11", "stance": "suspend",
        "summary": "Suspend LFR.", "areas": ["Hackney"],
        "link": "https://council.example/motions/42"}), 201)
    html = s.staff.anon.get("/register").text
    assert 'data-test="motion-awaiting-response"' in html
    assert 'href="https://council.example/motions/42"' in html
    assert "No engine setup has been registered." in html


def test_text_from_the_public_is_escaped(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    ok(s.staff.anon.post(f"/api/public/deployments/{s.reference}/feedback", json={
        "kind": "objection", "text": "<script>alert('x')</script> no thanks"}), 201)
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def _fill(path: str, reference: str) -> str:
    """A concrete URL for a page path: the scenario's deployment and area, an unknown
    token (such pages must still answer, with a 404 page), and ids of 1."""
    path = path.replace("{reference}", reference).replace("{area}", "lambeth--vauxhall")
    path = path.replace("{token}", "unknown-token")
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_page_is_public_and_outside_the_api_spec(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    for path in PUBLIC_PAGE_PATHS:
        r = s.staff.anon.get(_fill(path, s.reference), follow_redirects=False)
        expected = {404} if "{token}" in path else {200}
        assert r.status_code in expected, (path, r.status_code)
        assert r.headers["content-type"].startswith(("text/", "application/")), path
    spec = ok(s.staff.anon.get("/openapi.json"))
    every_page = PUBLIC_PAGE_PATHS + STAFF_PAGE_PATHS
    assert not any(p in spec["paths"] for p in every_page)
    css = s.staff.anon.get("/static/portal.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    # The portal does not shadow the API's own answers.
    assert s.staff.anon.get("/api/nothing-here").headers["content-type"].startswith(
        "application/json")


def test_every_staff_page_refuses_anonymous_callers(scenario: Scenario) -> None:
    """Walk every staff route: anonymous GETs are sent to the login page, anonymous posts
    change nothing (sent to the login page too), whatever the body."""
    s = scenario
    publish_realistic_deployment(s)
    from starlette.routing import Route

    from openlfr.web.pages import portal_routes

    staff_routes = [r for r in portal_routes()
                    if isinstance(r, Route) and r.path in STAFF_PAGE_PATHS]
    checked = 0
    for route in staff_routes:
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            r = s.staff.anon.request(method, _fill(route.path, s.reference),
                                     data={"csrf_token": "x"}, follow_redirects=False)
            assert r.status_code == 303, (method, route.path, r.status_code)
            assert r.headers["location"].startswith("http://testserver/staff/login?next="), (
                method, route.path)
            checked += 1
    assert checked >= len(STAFF_PAGE_PATHS)


def test_every_portal_route_is_declared_public_or_staff() -> None:
    """The API's access walk does not see portal routes (they are not API routes), so
    each page module declares its public paths, and every other route is a StaffRoute
    naming its action of the powers table (walked by the test above, and for every role
    by test_staff_powers.py)."""
    from starlette.routing import Mount, Route

    from openlfr.web.pages import portal_routes
    from openlfr.web.pages.staff_access import StaffRoute

    routes = [r for r in portal_routes() if isinstance(r, Route)]
    public = {r.path for r in routes if not isinstance(r, StaffRoute)}
    assert public == set(PUBLIC_PAGE_PATHS)
    assert {r.path for r in routes if isinstance(r, StaffRoute)} == set(STAFF_PAGE_PATHS)
    assert not public & set(STAFF_PAGE_PATHS)
    assert [r.path for r in portal_routes() if isinstance(r, Mount)] == ["/static"]
