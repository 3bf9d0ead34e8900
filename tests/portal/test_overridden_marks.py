"""A deployment that went ahead despite failed checks is marked as such everywhere the
public or an operator sees it: the home page's card, the deployment page, the iCal
SUMMARY and status text, the Atom entry's title, the open data, the operator console,
and an e-mail to the area's subscribers (over real SMTP)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import feedparser
import pytest
from icalendar import Calendar
from platform_helpers import ASKED_BECAUSE, COUNTERSIGNED_BECAUSE, START, Scenario, ok
from smtp_sink import SmtpSink, smtp_sink
from sqlalchemy import select

from openlfr.services import mailer, notices
from openlfr.services.platform import Platform
from openlfr.storage import models as m

MARK = "authorised despite 1 failed check"


@pytest.fixture
def sink(platform: Platform) -> Iterator[SmtpSink]:
    with smtp_sink() as server:
        platform.settings.smtp_host = server.host
        platform.settings.smtp_port = server.port
        platform.settings.public_url = "http://testserver"
        yield server


def test_an_overridden_deployment_is_marked_everywhere(scenario: Scenario,
                                                       sink: SmtpSink) -> None:
    s = scenario
    s.prepare()
    notices.subscribe(s.staff.platform, "ward@example.org", "lambeth--vauxhall")
    [subscription] = _subscriptions(s)
    notices.confirm_subscription(s.staff.platform, subscription.token)
    mailer.send_pending(s.staff.platform)

    s.late_objection()
    anon = s.staff.anon
    assert MARK not in anon.get("/").text  # asking is not going ahead
    s.override()

    home = anon.get("/").text
    card = home[home.index(f'data-reference="{s.reference}"'):]
    card = card[:card.index("</li>")]
    assert 'data-test="override-badge" data-failed-checks="1"' in card and MARK in card

    page = anon.get(f"/deployments/{s.reference}").text
    assert 'data-test="override-banner"' in page and f"{MARK[0].upper()}{MARK[1:]}." in page
    assert ASKED_BECAUSE in page and COUNTERSIGNED_BECAUSE in page

    for area in ("lambeth", "lambeth--vauxhall"):
        cal = Calendar.from_ical(anon.get(f"/areas/{area}/deployments.ics").content)
        [event] = [e for e in cal.walk("VEVENT") if str(e["uid"]).startswith(s.reference)]
        assert MARK in str(event["summary"])
        assert f"Status: {MARK}." in str(event["description"])
        assert "went ahead despite failed checks (consultation and objections)" in str(
            event["description"])
        atom = feedparser.parse(anon.get(f"/areas/{area}/deployments.atom").content)
        assert MARK in atom.entries[0].title

    data = json.loads(anon.get(f"/deployments/{s.reference}/figures.json").text)
    assert data["rows"][0]["authorised_despite_failed_checks"] == 1
    public = ok(anon.get(f"/api/public/deployments/{s.reference}"))
    assert public["status_text"] == MARK
    assert ok(anon.get("/api/public/deployments"))[0]["went_ahead_despite"] == [
        "consultation_and_objections"]

    s.clock.now = START
    ok(s.staff["operator"].post(s.url("/activate")))
    rows = list(csv.DictReader(io.StringIO(anon.get("/transparency.csv").text)))
    assert {r["deployment"]: r["authorised_despite_failed_checks"] for r in rows} == {
        "all": "", s.reference: "1"}
    console = s.staff["operator"].get(f"/staff/deployments/{s.deployment_id}/console").text
    assert 'data-test="override-banner"' in console
    assert "Active (authorised despite 1 failed check)." in console
    assert "consultation and objections" in console

    assert mailer.send_pending(s.staff.platform).sent == 1
    [mail] = sink.to("ward@example.org")[-1:]
    assert mail.subject.startswith("Going ahead despite failed checks: live facial "
                                   "recognition in Lambeth / Vauxhall")
    for text in ("although 1\nof the checks", ASKED_BECAUSE, COUNTERSIGNED_BECAUSE,
                 "consultation and objections:", "Status:   authorised despite 1 failed check"):
        assert text in mail.body, text


def _subscriptions(s: Scenario) -> list[m.NoticeSubscription]:
    with s.staff.platform.sessions() as session:
        return list(session.scalars(select(m.NoticeSubscription)))
