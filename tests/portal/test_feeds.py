"""Notice subscriptions per area, read with real parsers: icalendar for the calendar,
feedparser for Atom."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import feedparser
from icalendar import Calendar
from platform_helpers import START, Scenario, ok
from portal_helpers import assert_no_personal_data, draft_elsewhere, publish_realistic_deployment


def _publish_in(s: Scenario, title: str, borough: str, ward: str | None,
                days_later: int) -> str:
    """A second deployment with notice published, in another area or ward."""
    body = s.deployment_body(title=title, borough=borough, ward=ward,
                             start_at=(START + timedelta(days=days_later)).isoformat(),
                             end_at=(START + timedelta(days=days_later, hours=6)).isoformat())
    d = ok(s.staff["planner"].post("/api/deployments", json=body), 201)
    ok(s.staff["planner"].post(f"/api/deployments/{d['id']}/propose"))
    ok(s.staff["planner"].post(f"/api/deployments/{d['id']}/publish-notice"))
    return str(d["reference"])


def _events(s: Scenario, area: str) -> dict[str, Any]:
    r = s.staff.anon.get(f"/areas/{area}/deployments.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert_no_personal_data(r.text)
    cal = Calendar.from_ical(r.content)
    return {str(e["uid"]).removesuffix("@openlfr"): e for e in cal.walk("VEVENT")}


def _entries(s: Scenario, area: str) -> feedparser.FeedParserDict:
    r = s.staff.anon.get(f"/areas/{area}/deployments.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/atom+xml")
    assert_no_personal_data(r.text)
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    return feed


def test_ical_feed_has_the_areas_deployments_as_events(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    other_ward = _publish_in(s, "Brixton market", "Lambeth", "Brixton North", 25)
    elsewhere = _publish_in(s, "Mare Street", "Hackney", "Hackney Central", 26)
    draft = draft_elsewhere(s, borough="Lambeth", ward="Vauxhall")

    ward = _events(s, "lambeth--vauxhall")
    assert set(ward) == {s.reference}
    event = ward[s.reference]
    assert event.decoded("dtstart") == START
    assert event.decoded("dtend") == START + timedelta(hours=8)
    assert "Vauxhall high street" in str(event["summary"])
    assert str(event["location"]) == "Station forecourt"
    assert str(event["status"]) == "CONFIRMED"  # authorised
    assert str(event["url"]).endswith(f"/deployments/{s.reference}")
    geo = event["geo"]
    assert (round(geo.latitude, 4), round(geo.longitude, 4)) == (51.4952, -0.1115)

    borough = _events(s, "lambeth")
    assert set(borough) == {s.reference, other_ward}
    assert str(borough[other_ward]["status"]) == "TENTATIVE"  # notice only
    assert draft["reference"] not in borough
    assert set(_events(s, "hackney")) == {elsewhere}


def test_a_cancelled_deployment_stays_in_the_calendar_as_cancelled(scenario: Scenario) -> None:
    s = scenario
    reference = _publish_in(s, "Brixton market", "Lambeth", "Brixton North", 25)
    deployment_id = int(reference.rsplit("-", 1)[1])
    ok(s.staff["planner"].post(f"/api/deployments/{deployment_id}/cancel",
                               json={"reason": "The operation it supported has ended."}))
    event = _events(s, "lambeth--brixton-north")[reference]
    assert str(event["status"]) == "CANCELLED"
    assert "The operation it supported has ended." in str(event["description"])


def test_atom_feed_has_the_areas_deployments_as_entries(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    other_ward = _publish_in(s, "Brixton market", "Lambeth", "Brixton North", 25)
    _publish_in(s, "Mare Street", "Hackney", "Hackney Central", 26)

    feed = _entries(s, "lambeth")
    assert feed.feed.title == "Live facial recognition in Lambeth"
    links = {entry.link for entry in feed.entries}
    assert {link.rsplit("/", 1)[1] for link in links} == {s.reference, other_ward}
    newest_first = [e.link.rsplit("/", 1)[1] for e in feed.entries]
    assert newest_first == [other_ward, s.reference]
    ours = next(e for e in feed.entries if e.link.endswith(s.reference))
    assert "Vauxhall high street" in ours.title and "authorised" in ours.title
    assert "Station forecourt" in ours.content[0].value
    assert ours.updated_parsed is not None and ours.published_parsed is not None

    ward = _entries(s, "lambeth--vauxhall")
    assert [e.link.rsplit("/", 1)[1] for e in ward.entries] == [s.reference]
    assert ward.feed.title == "Live facial recognition in Lambeth / Vauxhall"


def test_feeds_for_an_area_with_no_deployment_are_valid_and_empty(scenario: Scenario) -> None:
    s = scenario
    draft_elsewhere(s)  # Hackney, but only a draft
    assert _events(s, "hackney") == {}
    feed = _entries(s, "hackney--dalston")
    assert feed.entries == [] and feed.feed.title == "Live facial recognition in Hackney / Dalston"


def test_feeds_refuse_text_that_names_no_area_and_redirect_names_to_codes(
        scenario: Scenario) -> None:
    s = scenario
    for area in ("lambeth---x", "nowhere", "a" * 201):
        for ext in ("ics", "atom"):
            r = s.staff.anon.get(f"/areas/{area}/deployments.{ext}")
            assert r.status_code == 404, (area, ext)
            assert "in the gazetteer" in r.text
    r = s.staff.anon.get("/areas/lambeth--vauxhal/deployments.ics")
    assert r.status_code == 404 and "did you mean: Vauxhall" in r.text
    # A name (or alias) of an area is the same place: one feed, at the area's code.
    for area in ("Lambeth", "london-borough-of-lambeth"):
        r = s.staff.anon.get(f"/areas/{area}/deployments.atom", follow_redirects=False)
        assert r.status_code == 301 and r.headers["location"].endswith(
            "/areas/lambeth/deployments.atom")


def test_pages_link_to_the_feeds(scenario: Scenario) -> None:
    s = scenario
    publish_realistic_deployment(s)
    home = s.staff.anon.get("/").text
    assert 'href="http://testserver/areas/lambeth/deployments.ics"' in home
    assert 'href="http://testserver/areas/lambeth--vauxhall/deployments.atom"' in home
    page = s.staff.anon.get(f"/deployments/{s.reference}").text
    assert 'type="application/atom+xml"' in page
    assert "/areas/lambeth--vauxhall/deployments.ics" in page
