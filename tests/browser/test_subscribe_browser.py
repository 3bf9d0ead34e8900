"""A resident subscribes to e-mail notice from the home page in Chromium, confirms with the
link from the e-mail (received over real SMTP), gets the notice of the next deployment in
the area, and unsubscribes with the link in it."""

from __future__ import annotations

import re
from typing import Any

from platform_helpers import Scenario, ok
from playwright.sync_api import expect
from smtp_sink import Received, smtp_sink
from sqlalchemy import select

from openlfr.services import mailer
from openlfr.storage import models as m

RESIDENT = "resident.in.vauxhall@example.org"


def _link(message: Received, base_url: str, action: str) -> str:
    [url] = re.findall(rf"{re.escape(base_url)}/subscriptions/\S+/{action}", message.body)
    return url


def _publish(s: Scenario, **overrides: Any) -> None:
    s.draft(**overrides)
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))


def test_resident_subscribes_from_the_home_page_and_confirms(page: Any, scenario: Scenario,
                                                             live_url: str) -> None:
    s = scenario
    platform = s.staff.platform
    _publish(s)
    with smtp_sink() as sink:
        platform.settings.smtp_host, platform.settings.smtp_port = sink.host, sink.port
        platform.settings.public_url = live_url

        page.goto(live_url)
        page.click("[data-test=area][data-area=lambeth--vauxhall] [data-test=area-email]")
        expect(page.locator("h1")).to_contain_text("Lambeth / Vauxhall")
        page.fill("[data-test=email]", RESIDENT)
        page.click("[data-test=subscribe-submit]")
        page.wait_for_selector("[data-test=subscribe-sent]")
        assert RESIDENT not in page.content()

        assert mailer.send_pending(platform).sent == 1
        [confirmation] = sink.to(RESIDENT)
        page.goto(_link(confirmation, live_url, "confirm"))
        page.click("[data-test=confirm-submit]")
        assert "Lambeth / Vauxhall" in page.inner_text("[data-test=confirmed]")
        with platform.sessions() as session:
            [sub] = session.scalars(select(m.NoticeSubscription))
            assert sub.area_code == "lambeth--vauxhall" and sub.confirmed_at is not None

        _publish(s, title="Market day checks")
        assert mailer.send_pending(platform).sent == 1
        notice = sink.to(RESIDENT)[-1]
        assert "Market day checks" in notice.subject
        page.goto(_link(notice, live_url, "unsubscribe"))
        page.click("[data-test=unsubscribe-submit]")
        page.wait_for_selector("[data-test=unsubscribed]")
        _publish(s, title="After unsubscribing")
        assert mailer.send_pending(platform).sent == 0
