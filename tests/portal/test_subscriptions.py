"""E-mail notice per area, over real SMTP (aiosmtpd on loopback, not a mock): subscribe,
confirm from the e-mail's link, get a notice when a deployment in the area is published,
rescheduled or cancelled; ward and borough matching; unsubscribing; the outbox when the
mail server is down or not configured; retention; addresses never public; bad input and
the rate limit."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from platform_helpers import START, FakeClock, Scenario, new_client, ok
from smtp_sink import Received, SmtpSink, smtp_sink
from sqlalchemy import func, select

from openlfr.services import mailer, notices
from openlfr.services.platform import Platform
from openlfr.services.retention import apply_retention
from openlfr.storage import models as m
from openlfr.web import app as app_module
from openlfr.web.pages.subscriptions import SUBSCRIBE_PER_HOUR

PUBLIC_URL = "http://testserver"
ALICE = "alice.resident@example.org"
LINK = re.compile(rf"{re.escape(PUBLIC_URL)}/\S+")


@pytest.fixture
def sink(platform: Platform) -> Iterator[SmtpSink]:
    """A local SMTP server the platform sends to; links in e-mails point at the test app."""
    with smtp_sink() as server:
        platform.settings.smtp_host = server.host
        platform.settings.smtp_port = server.port
        platform.settings.public_url = PUBLIC_URL
        yield server


def subscribe(s: Scenario, email: str, area: str = "lambeth--vauxhall") -> Any:
    return s.staff.anon.post(f"/areas/{area}/subscribe", data={"email": email},
                             follow_redirects=False)


def deliver(s: Scenario) -> mailer.SendReport:
    return mailer.send_pending(s.staff.platform)


def link(message: Received, action: str) -> str:
    found = [u for u in LINK.findall(message.body) if u.endswith(f"/{action}")]
    assert len(found) == 1, (action, message.body)
    return found[0]


def confirmed_subscriber(s: Scenario, sink: SmtpSink, email: str,
                         area: str = "lambeth--vauxhall") -> None:
    """Subscribe through the form, receive the confirmation over SMTP, confirm by its link."""
    r = subscribe(s, email, area)
    assert r.status_code == 303, r.text
    assert deliver(s).sent >= 1
    confirmation = sink.to(email)[-1]
    assert confirmation.subject.startswith("Confirm e-mail notice")
    url = link(confirmation, "confirm")
    page = s.staff.anon.get(url)
    assert page.status_code == 200 and 'data-test="confirm-form"' in page.text
    done = s.staff.anon.post(url)
    assert done.status_code == 200 and 'data-test="confirmed"' in done.text


def publish(s: Scenario, **overrides: Any) -> None:
    s.draft(**overrides)
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/publish-notice")))


def notices_to(sink: SmtpSink, email: str) -> list[Received]:
    return [r for r in sink.to(email) if not r.subject.startswith("Confirm")]


def test_subscribe_confirm_and_receive_the_notice(scenario: Scenario, sink: SmtpSink) -> None:
    s = scenario
    form = s.staff.anon.get("/areas/lambeth--vauxhall/subscribe")
    assert form.status_code == 200 and 'data-test="subscribe-form"' in form.text
    assert "Lambeth / Vauxhall" in form.text
    r = subscribe(s, ALICE)
    assert r.headers["location"] == f"{PUBLIC_URL}/areas/lambeth--vauxhall/subscribe/sent"
    sent_page = s.staff.anon.get(r.headers["location"])
    assert 'data-test="subscribe-sent"' in sent_page.text and ALICE not in sent_page.text
    assert deliver(s) == mailer.SendReport(sent=1, failed=0, waiting=0)
    [confirmation] = sink.messages
    assert confirmation.rcpt_tos == [ALICE] and confirmation.message["To"] == ALICE
    assert "Lambeth / Vauxhall" in confirmation.body
    confirm_url = link(confirmation, "confirm")
    # Until the link is used, nothing but the confirmation is sent.
    publish(s, title="Before confirming")
    assert deliver(s).sent == 0 and len(sink.messages) == 1
    assert 'data-test="confirm-form"' in s.staff.anon.get(confirm_url).text
    assert 'data-test="confirmed"' in s.staff.anon.post(confirm_url).text

    publish(s)
    assert deliver(s) == mailer.SendReport(sent=1, failed=0, waiting=0)
    [notice] = notices_to(sink, ALICE)
    msg = notice.message
    assert notice.rcpt_tos == [ALICE] and msg["To"] == ALICE
    assert msg["From"] == s.staff.platform.settings.smtp_from
    assert msg["Subject"] == ("Notice of live facial recognition in Lambeth / Vauxhall: "
                              "Vauxhall high street, from Sun 22 March 2026, 10:00 GMT (10:00 UTC)")
    body = notice.body
    for text in (f"Vauxhall high street ({s.reference})", "Where:    Lambeth / Vauxhall",
                 "Sites:    Station forecourt",
                 "When:     Sun 22 March 2026, 10:00 GMT (10:00 UTC) to "
                 "Sun 22 March 2026, 18:00 GMT (18:00 UTC)",
                 "Status:   notice published",
                 "Purpose: Locate people wanted for robbery and violent offences.",
                 "Offence categories: robbery, violence against the person",
                 f"{PUBLIC_URL}/deployments/{s.reference}/feedback",
                 f"{PUBLIC_URL}/areas/lambeth--vauxhall/deployments.ics"):
        assert text in body, text
    unsubscribe_url = link(notice, "unsubscribe")
    assert msg["List-Unsubscribe"] == f"<{unsubscribe_url}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Every link in the e-mail leads to a page that answers.
    for url in LINK.findall(body):
        assert s.staff.anon.get(url).status_code == 200, url
    assert s.reference in s.staff.anon.get(f"{PUBLIC_URL}/deployments/{s.reference}").text


def test_borough_covers_its_wards_and_a_ward_only_itself(scenario: Scenario,
                                                         sink: SmtpSink) -> None:
    s = scenario
    who = {"borough@example.org": "lambeth", "ward@example.org": "lambeth--vauxhall",
           "other-ward@example.org": "lambeth--brixton-windrush", "hackney@example.org": "hackney"}
    for email, area in who.items():
        confirmed_subscriber(s, sink, email, area)
    publish(s)  # Lambeth / Vauxhall
    assert deliver(s).sent == 2
    assert len(notices_to(sink, "borough@example.org")) == 1
    assert len(notices_to(sink, "ward@example.org")) == 1
    assert notices_to(sink, "other-ward@example.org") == []
    assert notices_to(sink, "hackney@example.org") == []
    # One e-mail per subscriber, never one with many recipients.
    assert all(len(r.rcpt_tos) == 1 for r in sink.messages)
    borough_notice = notices_to(sink, "borough@example.org")[0]
    assert f"{PUBLIC_URL}/areas/lambeth/deployments.atom" in borough_notice.body
    assert "live facial recognition in\nLambeth. To stop" in borough_notice.body

    publish(s, ward="Brixton Windrush", title="Brixton Windrush station")
    assert deliver(s).sent == 2
    assert len(notices_to(sink, "borough@example.org")) == 2
    assert len(notices_to(sink, "other-ward@example.org")) == 1
    assert len(notices_to(sink, "ward@example.org")) == 1

    # A deployment that names only the borough may be in any of its wards: every ward's
    # subscribers hear of it, and it is in every ward's feed (a force cannot reach fewer
    # residents by declaring less).
    publish(s, ward=None, title="Somewhere in Lambeth")
    assert deliver(s).sent == 3
    assert len(notices_to(sink, "ward@example.org")) == 2
    assert len(notices_to(sink, "other-ward@example.org")) == 2
    assert len(notices_to(sink, "hackney@example.org")) == 0
    feed = s.staff.anon.get("/areas/lambeth--vauxhall/deployments.ics").text
    assert s.reference in feed and "Somewhere in Lambeth" in feed


def test_unconfirmed_subscribers_get_nothing(scenario: Scenario, sink: SmtpSink) -> None:
    s = scenario
    assert subscribe(s, ALICE).status_code == 303
    publish(s)
    assert deliver(s).sent == 1
    assert [r.subject.startswith("Confirm") for r in sink.messages] == [True]


def test_unsubscribe_stops_emails_including_waiting_ones(scenario: Scenario,
                                                         sink: SmtpSink) -> None:
    s = scenario
    confirmed_subscriber(s, sink, ALICE)
    confirmed_subscriber(s, sink, "bob@example.org")
    publish(s)
    assert deliver(s).sent == 2
    [notice] = notices_to(sink, ALICE)
    url = link(notice, "unsubscribe")
    page = s.staff.anon.get(url)
    assert page.status_code == 200 and 'data-test="unsubscribe-form"' in page.text
    assert ALICE not in page.text

    # A notice already in the outbox when the person unsubscribes is not sent either.
    ok(s.staff["planner"].post(s.url("/cancel"), json={"reason": "The market was moved."}))
    done = s.staff.anon.post(url)
    assert done.status_code == 200 and 'data-test="unsubscribed"' in done.text
    assert s.staff.anon.post(url).status_code == 200  # twice changes nothing
    assert deliver(s).sent == 1
    assert len(notices_to(sink, ALICE)) == 1 and len(notices_to(sink, "bob@example.org")) == 2
    publish(s, title="Later deployment")
    assert deliver(s).sent == 1
    assert len(notices_to(sink, ALICE)) == 1

    # A mail program's one-click unsubscribe (RFC 8058) POSTs to the header's address.
    bob_url = notices_to(sink, "bob@example.org")[-1].message["List-Unsubscribe"].strip("<>")
    one_click = s.staff.anon.post(bob_url, content="List-Unsubscribe=One-Click", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200
    publish(s, title="Even later deployment")
    assert deliver(s).sent == 0
    # The confirmation link no longer works for an ended subscription; subscribing again
    # needs a new confirmation.
    first_confirmation = sink.to(ALICE)[0]
    assert s.staff.anon.post(link(first_confirmation, "confirm")).status_code == 409
    s.clock.advance(seconds=notices.CONFIRMATION_RESEND_INTERVAL.total_seconds() + 1)
    assert subscribe(s, ALICE).status_code == 303
    assert deliver(s).sent == 1
    publish(s, title="After subscribing again, before confirming")
    assert deliver(s).sent == 0


def test_reschedule_and_cancel_emails(scenario: Scenario, sink: SmtpSink) -> None:
    s = scenario
    confirmed_subscriber(s, sink, ALICE)
    publish(s)
    new_start = START + timedelta(days=7)
    ok(s.staff["planner"].post(s.url("/reschedule"), json={
        "start_at": new_start.isoformat(), "end_at": (new_start + timedelta(hours=6)).isoformat(),
        "reason": "The station is closed for engineering works that weekend."}))
    assert deliver(s).sent == 2
    moved = notices_to(sink, ALICE)[-1]
    assert moved.subject.startswith(
        "New dates for live facial recognition in Lambeth / Vauxhall")
    for text in ("When:     Sun 29 March 2026, 11:00 BST (10:00 UTC) to "
                 "Sun 29 March 2026, 17:00 BST (16:00 UTC)",
                 "Was:      Sun 22 March 2026, 10:00 GMT (10:00 UTC) to "
                 "Sun 22 March 2026, 18:00 GMT (18:00 UTC)",
                 "Why the dates changed: The station is closed for engineering works",
                 "The notice period\nruns again from today"):
        assert text in moved.body, text
    assert link(moved, "unsubscribe")

    ok(s.staff["authoriser"].post(s.url("/cancel"), json={
        "reason": "The court lifted the warrants this operation was for."}))
    assert deliver(s).sent == 1
    cancelled = notices_to(sink, ALICE)[-1]
    assert cancelled.subject.startswith("Cancelled: live facial recognition")
    assert "Status:   cancelled" in cancelled.body
    assert "Why it was cancelled: The court lifted the warrants" in cancelled.body

    # A deployment cancelled before its notice was published was never public: no e-mail.
    s.draft(title="Never announced")
    ok(s.staff["planner"].post(s.url("/propose")))
    ok(s.staff["planner"].post(s.url("/cancel"), json={"reason": "Not needed after all."}))
    assert deliver(s).sent == 0


def _outbox(p: Platform) -> list[m.OutgoingEmail]:
    with p.sessions() as session:
        return list(session.scalars(select(m.OutgoingEmail).order_by(m.OutgoingEmail.id)))


def test_mail_server_down_keeps_emails_and_sends_them_later(
        scenario: Scenario, sink: SmtpSink, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    s = scenario
    p = s.staff.platform
    confirmed_subscriber(s, sink, ALICE)
    sink.stop()
    publish(s)
    with caplog.at_level(logging.INFO, logger="openlfr"):
        assert deliver(s) == mailer.SendReport(sent=0, failed=1, waiting=1)
    [row] = [e for e in _outbox(p) if e.sent_at is None]
    assert row.attempts == 1 and row.last_error and "Connection refused" in row.last_error
    assert row.next_attempt_at == clock.now + mailer.retry_delay(1)
    # Not due yet: nothing is tried, the e-mail waits.
    assert deliver(s) == mailer.SendReport(sent=0, failed=0, waiting=1)
    clock.advance(seconds=mailer.retry_delay(1).total_seconds())
    assert deliver(s) == mailer.SendReport(sent=0, failed=1, waiting=1)
    [row] = [e for e in _outbox(p) if e.sent_at is None]
    assert row.attempts == 2 and row.next_attempt_at == clock.now + mailer.retry_delay(2)
    assert mailer.retry_delay(2) == 2 * mailer.retry_delay(1)

    sink.start()
    clock.advance(hours=1)
    assert deliver(s) == mailer.SendReport(sent=1, failed=0, waiting=0)
    assert len(notices_to(sink, ALICE)) == 1  # sent once, not lost, not duplicated
    sent = [e for e in _outbox(p) if e.kind == "notice_published"][0]
    assert sent.sent_at == clock.now and sent.last_error is None and sent.attempts == 3
    assert deliver(s).sent == 0
    assert ALICE not in caplog.text


def test_a_refused_recipient_is_retried_and_its_address_not_recorded(
        scenario: Scenario, sink: SmtpSink, caplog: pytest.LogCaptureFixture) -> None:
    s = scenario
    confirmed_subscriber(s, sink, ALICE)
    confirmed_subscriber(s, sink, "bob@example.org")
    sink.refuse("bob@example.org")
    publish(s)
    with caplog.at_level(logging.INFO, logger="openlfr"):
        assert deliver(s) == mailer.SendReport(sent=1, failed=1, waiting=1)
    [failed] = [e for e in _outbox(s.staff.platform) if e.sent_at is None]
    assert failed.last_error is not None and "550" in failed.last_error
    assert "<recipient>" in failed.last_error and "bob@example.org" not in failed.last_error
    assert "bob@example.org" not in caplog.text and "550" in caplog.text


def test_without_a_mail_server_emails_wait_in_the_outbox(
        scenario: Scenario, platform: Platform, caplog: pytest.LogCaptureFixture) -> None:
    s = scenario
    platform.settings.smtp_host = None
    monkey_warned = mailer._warned_unconfigured
    mailer._warned_unconfigured = False
    try:
        assert subscribe(s, ALICE).status_code == 303
        with caplog.at_level(logging.WARNING, logger="openlfr"):
            report = deliver(s)
            deliver(s)
    finally:
        mailer._warned_unconfigured = monkey_warned
    assert report == mailer.SendReport(sent=0, failed=0, waiting=1, configured=False)
    warnings = [r for r in caplog.records if "no SMTP server is configured" in r.message]
    assert len(warnings) == 1  # said once, not every few seconds
    [row] = _outbox(platform)
    assert row.attempts == 0 and row.sent_at is None


def test_retention_deletes_old_sent_emails_and_stale_subscriptions(
        scenario: Scenario, sink: SmtpSink, clock: FakeClock) -> None:
    s = scenario
    p = s.staff.platform
    confirmed_subscriber(s, sink, ALICE)
    assert subscribe(s, "never-confirmed@example.org").status_code == 303
    assert deliver(s).sent == 1
    publish(s)  # this notice is not sent before the sweep
    days = p.settings.sent_email_retention_days
    clock.advance(days=days + 1)
    report = apply_retention(p)
    assert report.sent_emails_deleted == 2  # both confirmations, sent over 30 days ago
    assert report.subscriptions_deleted == 1  # the unconfirmed one
    left = _outbox(p)
    assert [e.kind for e in left] == ["notice_published"] and left[0].sent_at is None
    with p.sessions() as session:
        subs = list(session.scalars(select(m.NoticeSubscription)))
        events = list(session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action.in_(["email.sent_deleted", "subscription.deleted"]))))
    assert [x.email for x in subs] == [ALICE]
    assert {e.action for e in events} == {"email.sent_deleted", "subscription.deleted"}
    assert all("@" not in e.details for e in events)
    assert deliver(s).sent == 1
    assert apply_retention(p).sent_emails_deleted == 0  # sent just now: kept


def test_addresses_never_appear_on_public_pages_api_feeds_or_audit(
        scenario: Scenario, sink: SmtpSink) -> None:
    s = scenario
    confirmed_subscriber(s, sink, ALICE)
    publish(s)
    deliver(s)
    ok(s.staff["planner"].post(s.url("/reschedule"), json={
        "start_at": (START + timedelta(days=3)).isoformat(),
        "end_at": (START + timedelta(days=3, hours=4)).isoformat(), "reason": "Works."}))
    token = link(sink.to(ALICE)[0], "confirm").split("/")[-2]
    anon = s.staff.anon
    pages = ["/", f"/deployments/{s.reference}", "/areas/lambeth--vauxhall/deployments.ics",
             "/areas/lambeth--vauxhall/deployments.atom", "/areas/lambeth/subscribe",
             "/areas/lambeth--vauxhall/subscribe/sent", f"/subscriptions/{token}/confirm",
             f"/subscriptions/{token}/unsubscribe", "/api/public/deployments",
             f"/api/public/deployments/{s.reference}", "/register"]
    for path in pages:
        r = anon.get(path)
        assert r.status_code == 200, path
        assert ALICE not in r.text and "alice.resident" not in r.text, path
    events = ok(s.staff["admin"].get("/api/audit/events", params={"limit": 1000}))
    subscription_events = [e for e in events if e["subject_type"] == "notice_subscription"]
    assert {e["action"] for e in subscription_events} == {"subscription.requested",
                                                          "subscription.confirmed"}
    assert "alice" not in str(events)
    staff_view = s.staff["planner"].get(f"/api/deployments/{s.deployment_id}").text
    assert ALICE not in staff_view


def test_bad_address_bad_area_and_rate_limit(scenario: Scenario, sink: SmtpSink) -> None:
    s = scenario
    for bad in ("not an address", "alice@", "@example.org", "alice@@example.org", "",
                "x" * 300 + "@example.org"):
        r = subscribe(s, bad)
        assert r.status_code == 422, bad
        assert 'data-test="form-error" data-field="email"' in r.text
    assert s.staff.anon.get("/areas/Not_An_Area/subscribe").status_code == 404
    assert subscribe(s, ALICE, area="Not_An_Area").status_code == 404
    with s.staff.platform.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.NoticeSubscription)) == 0
    for i in range(SUBSCRIBE_PER_HOUR):
        assert subscribe(s, f"person{i}@example.org").status_code == 303
    limited = subscribe(s, "one-too-many@example.org")
    assert limited.status_code == 429 and 'data-test="rate-limited"' in limited.text
    with s.staff.platform.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.NoticeSubscription)) == \
            SUBSCRIBE_PER_HOUR


def test_subscribing_again_gives_the_same_answer_and_resends_the_confirmation(
        scenario: Scenario, sink: SmtpSink, clock: FakeClock) -> None:
    s = scenario
    confirmed_subscriber(s, sink, ALICE)
    clock.advance(seconds=notices.CONFIRMATION_RESEND_INTERVAL.total_seconds() + 1)
    first = subscribe(s, "new-person@example.org")
    again = subscribe(s, ALICE)  # already subscribed and confirmed
    assert (first.status_code, first.headers["location"]) == (
        again.status_code, again.headers["location"])
    assert s.staff.anon.get(first.headers["location"]).text == \
        s.staff.anon.get(again.headers["location"]).text
    assert deliver(s).sent == 2
    assert len(sink.to(ALICE)) == 2
    assert link(sink.to(ALICE)[0], "confirm") == link(sink.to(ALICE)[1], "confirm")
    # Repeated requests within minutes do not fill the mailbox...
    assert subscribe(s, ALICE).status_code == 303
    assert deliver(s).sent == 0
    # ... and the subscription stays confirmed: a stranger cannot undo it.
    publish(s)
    assert deliver(s).sent == 1 and len(notices_to(sink, ALICE)) == 1
    clock.advance(seconds=notices.CONFIRMATION_RESEND_INTERVAL.total_seconds() + 1)
    assert subscribe(s, ALICE).status_code == 303
    assert deliver(s).sent == 1


def test_unknown_links_are_not_found(scenario: Scenario) -> None:
    anon = scenario.staff.anon
    for action in ("confirm", "unsubscribe"):
        for token in ("unknown-token", "x" * 200):
            assert anon.get(f"/subscriptions/{token}/{action}").status_code == 404
            assert anon.post(f"/subscriptions/{token}/{action}").status_code == 404


def test_cli_sends_pending_emails(scenario: Scenario, sink: SmtpSink,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from openlfr.cli import app

    s = scenario
    p = s.staff.platform
    assert subscribe(s, ALICE).status_code == 303
    env = {"OPENLFR_SMTP_HOST": sink.host, "OPENLFR_SMTP_PORT": str(sink.port),
           "OPENLFR_DATABASE_URL": p.settings.database_url or ""}
    args = ["email", "send-pending", "--data-dir", str(p.settings.data_dir)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "sent 1, failed 0, waiting 0"
    assert len(sink.to(ALICE)) == 1
    sink.stop()
    assert subscribe(s, "bob@example.org").status_code == 303
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1
    assert result.stdout.strip() == "sent 0, failed 1, waiting 1"
    assert "retried with back-off" in result.stderr
    result = CliRunner().invoke(app, args, env={**env, "OPENLFR_SMTP_HOST": ""})
    assert result.exit_code == 0
    assert "no SMTP server configured" in result.stdout and "1 e-mail(s) waiting" in result.stdout


def test_the_server_sends_due_emails_in_the_background(
        platform: Platform, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """`openlfr serve` runs the sender every few seconds (the app's lifespan)."""
    monkeypatch.setattr(app_module, "EMAIL_INTERVAL_S", 0.05)
    with new_client(app_module.create_app(platform=platform)) as client:
        r = client.post("/areas/lambeth/subscribe", data={"email": ALICE},
                        follow_redirects=False)
        assert r.status_code == 303
        deadline = time.monotonic() + 10
        while not sink.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [x.rcpt_tos for x in sink.messages] == [[ALICE]]
