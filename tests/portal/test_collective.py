"""Collective and standing objections over HTTP: co-signed with one signature per e-mail
address (double opt-in, no names published); past the threshold the deployment cannot be
authorised until oversight's hearing is recorded and published; a standing objection
attaches to the next deployment proposed in its area."""

from __future__ import annotations

import re

from platform_helpers import Scenario, ok
from portal_helpers import csrf_from
from sqlalchemy import select

from openlfr.storage import models as m

TEXT = "We object to live facial recognition at Vauxhall station: nobody asked the estate."
HEARING = ("The board heard four residents and the force on 10 March; it asked for the "
           "cameras to stay off the estate entrance, which the force accepted.")


def _confirm_links(s: Scenario, address: str) -> list[str]:
    with s.staff.platform.sessions() as db:
        bodies = db.scalars(select(m.OutgoingEmail.body).where(
            m.OutgoingEmail.to_address == address))
        return [link.replace("http://127.0.0.1:8000", "") for body in bodies
                for link in re.findall(r"\S+/collective/signatures/\S+/confirm", body)]


def _sign_and_confirm(s: Scenario, objection_id: int, address: str) -> None:
    ok(s.staff.anon.post(f"/api/public/collective-objections/{objection_id}/signatures",
                         json={"email": address}), 202)
    [link] = _confirm_links(s, address)
    assert s.staff.anon.post(link).status_code == 200


def test_a_collective_objection_past_the_threshold_needs_a_hearing(scenario: Scenario) -> None:
    s = scenario
    s.staff.platform.settings.collective_objection_threshold = 3
    s.prepare()
    filed = ok(s.staff.anon.post("/api/public/areas/lambeth--vauxhall/collective-objections",
                                 json={"text": TEXT, "email": "first@example.org"}), 202)
    oid = filed["id"]
    [first] = _confirm_links(s, "first@example.org")
    assert "Confirm" in s.staff.anon.get(first).text  # a page with a button: GET changes nothing
    s.staff.anon.post(first)
    _sign_and_confirm(s, oid, "second@example.org")
    # Signing twice with one address counts once; an unconfirmed signature does not count.
    ok(s.staff.anon.post(f"/api/public/collective-objections/{oid}/signatures",
                         json={"email": "second@example.org"}), 202)
    ok(s.staff.anon.post(f"/api/public/collective-objections/{oid}/signatures",
                         json={"email": "never-confirms@example.org"}), 202)
    [listed] = ok(s.staff.anon.get("/api/public/areas/lambeth--vauxhall/collective-objections"))
    assert listed["signatures"] == 2 and listed["deployment"] == s.reference
    assert not listed["needs_hearing"]

    _sign_and_confirm(s, oid, "third@example.org")
    r = s.staff["authoriser"].post(s.url("/authorise"))
    assert r.status_code == 409 and "no oversight hearing" in r.text
    [gate] = [g for g in r.json()["failing_gates"] if g["name"] == "consultation_and_objections"]
    assert gate["override_refusal"]  # no override can skip the hearing
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert 'data-needs-hearing="true"' in html and "example.org" not in html

    page = s.staff["oversight"].get("/staff/escalations")
    assert f'data-collective-id="{oid}"' in page.text
    r = s.staff["oversight"].post(f"/staff/collective/{oid}/hearing", data={
        "csrf_token": csrf_from(page.text), f"held-{oid}": "2026-03-10",
        f"hearing-{oid}": HEARING}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert HEARING in s.staff.anon.get(f"/deployments/{s.reference}").text
    ok(s.staff["authoriser"].post(s.url("/authorise")))


def test_a_standing_objection_attaches_to_the_next_deployment_proposed(
        scenario: Scenario) -> None:
    s = scenario
    page = s.staff.anon.get("/areas/hackney/objections")
    assert page.status_code == 200 and 'data-test="start-form"' in page.text
    r = s.staff.anon.post("/areas/hackney/objections", data={
        "act": "start", "text": "No live facial recognition in Hackney, planned or not.",
        "email": "resident@example.org"})
    assert r.status_code == 200 and 'data-test="signature-sent"' in r.text
    # Public only once its starter confirms: nobody's words go out unvouched for.
    assert ok(s.staff.anon.get("/api/public/areas/hackney/collective-objections")) == []
    [link] = _confirm_links(s, "resident@example.org")
    s.staff.anon.post(link)
    [standing] = ok(s.staff.anon.get("/api/public/areas/hackney/collective-objections"))
    assert standing["deployment"] is None
    assert 'data-test="standing"' in s.staff.anon.get("/areas/hackney/objections").text
    s.draft(title="Dalston market", borough="Hackney", ward="Dalston")
    ok(s.staff["planner"].post(s.url("/propose")))
    [attached] = ok(s.staff.anon.get("/api/public/areas/hackney/collective-objections"))
    assert attached["deployment"] == s.reference
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    assert "No live facial recognition in Hackney" in s.staff.anon.get(
        f"/deployments/{s.reference}").text


def test_any_area_can_be_found_by_name_subscribed_to_and_objected_in(
        scenario: Scenario) -> None:
    s = scenario
    page = s.staff.anon.get("/areas?q=vauxhall").text
    assert 'data-code="lambeth"' in page and 'data-code="lambeth--vauxhall"' in page
    assert 'data-code="hackney"' not in page  # no deployment anywhere: every area is listed
    assert "/areas/lambeth--vauxhall/subscribe" in page
    assert 'data-test="no-area"' in s.staff.anon.get("/areas?q=atlantis").text
    assert s.staff.anon.get("/areas/hackney--dalston/subscribe").status_code == 200
    rights = s.staff.anon.get("/your-rights").text
    days = s.staff.platform.settings.probe_crop_retention_hours // 24
    assert f"up to {days} days" in rights and 'data-test="policy-links"' in rights


def test_the_demo_mailbox_shows_sent_mail_only_in_the_demo(scenario: Scenario) -> None:
    s = scenario
    s.staff.anon.post("/areas/hackney/objections", data={
        "act": "start", "text": "No live facial recognition in Hackney, planned or not.",
        "email": "resident@example.org"})
    assert s.staff["admin"].get("/staff/mailbox").status_code == 404  # off by default
    s.staff.platform.settings.demo_mailbox = True
    page = s.staff["admin"].get("/staff/mailbox").text
    assert "resident@example.org" in page and "/collective/signatures/" in page
    assert s.staff["planner"].get("/staff/mailbox").status_code == 403


def test_sites_show_their_street_and_postcode(scenario: Scenario) -> None:
    s = scenario
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    html = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert "Station forecourt" in html and "Wandsworth Road" in html and "SW8 1SR" in html
    [site] = ok(s.staff.anon.get(f"/api/public/deployments/{s.reference}"))["sites"]
    assert (site["street"], site["postcode"]) == ("Wandsworth Road", "SW8 1SR")
    r = s.staff["planner"].post("/api/deployments", json=s.deployment_body(sites=[{
        "name": "Somewhere", "postcode": "not a postcode", "lat": 51.5, "lon": -0.1}]))
    assert r.status_code == 422


def test_search_by_postcode_district_finds_deployments_with_a_site_there(
        scenario: Scenario) -> None:
    s = scenario
    s.draft()
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    page = s.staff.anon.get("/areas?q=sw8").text
    assert 'data-test="postcode-deployment"' in page and s.reference in page
    assert 'data-test="postcode-deployment"' not in s.staff.anon.get("/areas?q=SW9").text
