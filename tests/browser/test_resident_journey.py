"""One resident's journey in Chromium, as the issue tells it: from the home page they find
a deployment in their area, subscribe to its notices (the iCal and Atom feeds, parsed with
real parsers, and e-mail confirmed through a real SMTP sink), answer its consultation and
file an objection; a planner answers the objection in the inbox; the answer is on the
public page the resident returns to."""

from __future__ import annotations

import re
from typing import Any

import feedparser
import icalendar
from browser_helpers import log_in
from platform_helpers import PASSWORD, Scenario, ok
from smtp_sink import smtp_sink
from sqlalchemy import func, select

from openlfr.services import mailer
from openlfr.storage import models as m

RESIDENT = "resident.of.vauxhall@example.org"
OBJECTION = "I object: the cameras would watch the entrance of my children's school."
ANSWER = "The cameras face the station forecourt only, not the school gate."
CONSULTATION = {
    "benefits": "Finding people wanted for robbery more quickly.",
    "risks": "False alerts can lead to innocent people being stopped; the cameras see "
             "everyone who passes, which affects privacy, and accuracy can differ between "
             "demographic groups. Some people may avoid the area while the cameras are "
             "there; faces that match nobody are deleted at once.",
    "questions": [{"text": "What do you think about the use of LFR on the high street?"}]}


def test_resident_finds_subscribes_answers_objects_and_reads_the_answer(
        context: Any, scenario: Scenario, live_url: str) -> None:
    s = scenario
    platform = s.staff.platform
    s.draft(title="Vauxhall station checks")
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))
    ok(s.staff["planner"].put(s.url("/consultation"), json=CONSULTATION))
    ok(s.staff["planner"].post(s.url("/consultation/open")))

    resident = context.new_page()
    resident.goto(live_url)
    listed = resident.locator("[data-test=deployment]", has_text="Vauxhall station checks")
    listed.locator("[data-test=deployment-link]").click()
    resident.wait_for_url(f"**/deployments/{s.reference}")

    # Subscribe: both feeds name the deployment; e-mail needs the confirmation link.
    area = resident.locator("[data-test=subscribe] [data-test=area]").first
    ical = resident.request.get(area.locator("[data-test=area-ical]").get_attribute("href")
                                or "")
    [event] = icalendar.Calendar.from_ical(ical.body()).walk("VEVENT")
    assert "Vauxhall station checks" in str(event["SUMMARY"])
    atom = feedparser.parse(resident.request.get(
        area.locator("[data-test=area-atom]").get_attribute("href") or "").body())
    assert not atom.bozo and "Vauxhall station checks" in atom.entries[0].title
    with smtp_sink() as sink:
        platform.settings.smtp_host, platform.settings.smtp_port = sink.host, sink.port
        platform.settings.public_url = live_url
        area.locator("[data-test=area-email]").click()
        resident.fill("[data-test=email]", RESIDENT)
        resident.click("[data-test=subscribe-submit]")
        resident.wait_for_selector("[data-test=subscribe-sent]")
        assert mailer.send_pending(platform).sent == 1
        [confirmation] = sink.to(RESIDENT)
    [confirm] = re.findall(rf"{re.escape(live_url)}/subscriptions/\S+/confirm",
                           confirmation.body)
    resident.goto(confirm)
    resident.click("[data-test=confirm-submit]")
    resident.wait_for_selector("[data-test=confirmed]")

    # The consultation, anonymously.
    resident.goto(f"{live_url}/deployments/{s.reference}")
    resident.click("[data-test=consultation-link]")
    resident.fill("[data-question=q1] [data-test=free-text]", "Only with strict deletion.")
    resident.click("[data-test=submit]")
    resident.wait_for_url("**/consultation/thanks")

    # The objection.
    resident.goto(f"{live_url}/deployments/{s.reference}")
    resident.click("[data-test=feedback-link]")
    resident.check("[data-test=kind-objection]")
    resident.fill("[data-test=text]", OBJECTION)
    resident.click("[data-test=submit]")
    resident.wait_for_url("**/feedback/thanks**")
    resident.goto(f"{live_url}/deployments/{s.reference}")
    waiting = resident.locator("[data-test=feedback-item][data-kind=objection]")
    assert OBJECTION in waiting.inner_text()
    assert "awaiting answer" in waiting.inner_text().lower()

    planner = context.browser.new_context().new_page()
    try:
        log_in(planner, live_url, "planner", PASSWORD)
        planner.wait_for_url(f"{live_url}/staff")
        planner.click("[data-test=inbox-link]")
        item = planner.locator("[data-test=feedback-item][data-kind=objection]")
        item.locator("[data-test=answer-text]").fill(ANSWER)
        item.locator("[data-test=answer-outcome]").select_option("not_upheld")
        item.locator("[data-test=answer-submit]").click()
        planner.wait_for_url("**done=answered**")
    finally:
        planner.context.close()

    resident.reload()
    objection = resident.locator("[data-test=feedback-item][data-kind=objection]")
    assert ANSWER in objection.locator("[data-test=answer]").inner_text()
    assert "awaiting answer" not in objection.inner_text().lower()
    with platform.sessions() as session:  # the consultation answer was recorded
        assert session.scalar(select(func.count()).select_from(m.ConsultationResponse)) == 1
