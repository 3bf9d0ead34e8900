"""The outbox's sender: sends e-mails that are due over SMTP (stdlib ``smtplib``), marks
them sent, and retries failures with exponential back-off, so an e-mail written while the
mail server is down is sent once it is back. Run every few seconds by the web app and on
demand by ``openlfr email send-pending``.

Each e-mail goes to one recipient. A row is claimed before it is sent (its attempt count
moves on, conditionally), so two senders at once never send the same row twice; one that
dies mid-send leaves the row to be retried after ``CLAIM_S``. Errors are recorded and
logged without the recipient's address.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from openlfr.governance.errors import NotFound
from openlfr.services.notices import pending_count, unsubscribe_url
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, require
from openlfr.settings import Settings
from openlfr.storage import models as m

log = logging.getLogger(__name__)

#: E-mails claimed per run.
BATCH_SIZE = 100
#: Seconds a claimed e-mail is held by its sender; after that another run may retry it.
CLAIM_S = 300
#: Retry delays double from RETRY_BASE_S up to RETRY_MAX_S; nothing is ever given up.
RETRY_BASE_S = 60
RETRY_MAX_S = 6 * 3600
#: Seconds to wait for the SMTP server to answer.
SMTP_TIMEOUT_S = 20
#: Longest error text kept on a row.
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class SendReport:
    """One run of the sender: e-mails sent, failed (to be retried), still waiting."""

    sent: int
    failed: int
    waiting: int
    configured: bool = True


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 1, 2, 4 ... minutes,
    at most 6 hours."""
    return timedelta(seconds=min(RETRY_BASE_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S))


_warned_unconfigured = False


def _warn_unconfigured() -> None:
    global _warned_unconfigured
    if not _warned_unconfigured:
        _warned_unconfigured = True
        log.warning("no SMTP server is configured (OPENLFR_SMTP_HOST): notice and "
                    "confirmation e-mails wait in the outbox until one is; nothing is lost")


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    to_address: str
    subject: str
    body: str
    attempts: int
    token: str | None


def send_pending(p: Platform, *, limit: int = BATCH_SIZE) -> SendReport:
    """Send the e-mails that are due (at most ``limit``). With no SMTP server configured
    they stay in the outbox and the report says how many wait."""
    settings = p.settings
    if not settings.smtp_host:
        _warn_unconfigured()
        with p.sessions() as s:
            return SendReport(0, 0, pending_count(s), configured=False)
    sent = failed = 0
    claimed = _claim_due(p, limit)
    connection: smtplib.SMTP | None = None
    try:
        for i, email in enumerate(claimed):
            try:
                if connection is None:
                    connection = _connect(settings)
            except (smtplib.SMTPException, OSError) as exc:
                # The server cannot be reached: the rest of the batch waits for the retry.
                for rest in claimed[i:]:
                    _failed(p, rest, exc)
                failed += len(claimed) - i
                break
            try:
                connection.send_message(_message(settings, email, p.clock()),
                                        to_addrs=[email.to_address])
            except (smtplib.SMTPException, OSError) as exc:
                _failed(p, email, exc)
                failed += 1
                if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                    connection = None  # reconnect for the next one
            else:
                _sent(p, email)
                sent += 1
    finally:
        if connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.quit()
    with p.sessions() as s:
        waiting = pending_count(s)
    if sent or failed:
        log.info("notice e-mails: %d sent, %d failed (will be retried), %d waiting",
                 sent, failed, waiting)
    return SendReport(sent, failed, waiting)


def _claim_due(p: Platform, limit: int) -> list[_Claimed]:
    now = p.clock()
    claimed: list[_Claimed] = []
    with p.sessions.begin() as s:
        due = s.execute(select(m.OutgoingEmail.id, m.OutgoingEmail.attempts).where(
            m.OutgoingEmail.sent_at.is_(None), m.OutgoingEmail.next_attempt_at <= now)
            .order_by(m.OutgoingEmail.next_attempt_at, m.OutgoingEmail.id).limit(limit)).all()
        for email_id, attempts in due:
            # Only if no other sender claimed it since it was read.
            won = s.execute(update(m.OutgoingEmail).where(
                m.OutgoingEmail.id == email_id, m.OutgoingEmail.attempts == attempts,
                m.OutgoingEmail.sent_at.is_(None)).values(
                attempts=attempts + 1, next_attempt_at=now + timedelta(seconds=CLAIM_S)))
            if getattr(won, "rowcount", 0) != 1:
                continue
            row = s.get(m.OutgoingEmail, email_id)
            assert row is not None
            sub = s.get(m.NoticeSubscription, row.subscription_id) \
                if row.subscription_id is not None else None
            claimed.append(_Claimed(row.id, row.kind, row.to_address, row.subject, row.body,
                                    attempts + 1, sub.token if sub is not None else None))
    return claimed


def _connect(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_host
    connection = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S)
    try:
        if settings.smtp_starttls:
            connection.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            connection.login(settings.smtp_username, settings.smtp_password or "")
    except BaseException:
        connection.close()
        raise
    return connection


def _message(settings: Settings, email: _Claimed, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = Address(addr_spec=email.to_address)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(now)
    # A domain of our own: make_msgid's default asks DNS for this host's name.
    msg["Message-ID"] = make_msgid("notice", urlsplit(settings.public_url).hostname
                                   or "openlfr.invalid")
    msg["Auto-Submitted"] = "auto-generated"
    if email.token is not None:
        # One-click unsubscribe (RFC 8058): mail programs show a button that POSTs here.
        msg["List-Unsubscribe"] = f"<{unsubscribe_url(settings, email.token)}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(email.body)
    return msg


def _sent(p: Platform, email: _Claimed) -> None:
    with p.sessions.begin() as s:
        s.execute(update(m.OutgoingEmail).where(m.OutgoingEmail.id == email.id).values(
            sent_at=p.clock(), last_error=None))


def _failed(p: Platform, email: _Claimed, exc: BaseException) -> None:
    error = _redacted(exc, email.to_address)
    retry_at = p.clock() + retry_delay(email.attempts)
    with p.sessions.begin() as s:
        s.execute(update(m.OutgoingEmail).where(m.OutgoingEmail.id == email.id).values(
            last_error=error, next_attempt_at=retry_at))
    log.warning("e-mail %d not sent (attempt %d): %s; next try at %s", email.id,
                email.attempts, error, retry_at.isoformat(timespec="seconds"))


def _redacted(exc: BaseException, address: str) -> str:
    """The error as text, without the recipient's address (servers often quote it)."""
    text = re.sub(re.escape(address), "<recipient>", f"{type(exc).__name__}: {exc}",
                  flags=re.IGNORECASE)
    return text[:MAX_ERROR_CHARS]


def demo_mailbox(p: Platform, actor: Actor, limit: int = 200) -> list[m.OutgoingEmail]:
    """The e-mails the platform sent or queued, newest first: the demo's local mailbox
    (``demo_mailbox`` setting; NotFound when it is off)."""
    require(actor, Action.MAILBOX_READ)
    if not p.settings.demo_mailbox:
        raise NotFound("the mailbox is shown only in the demo (OPENLFR_DEMO_MAILBOX)")
    with p.sessions() as s:
        return list(s.scalars(select(m.OutgoingEmail).order_by(m.OutgoingEmail.id.desc())
                              .limit(limit)))


def purge_sent_emails(s: Session, sent_before: datetime) -> int:
    """Delete e-mails sent before ``sent_before`` (address and text); the retention
    sweep calls this with ``sent_email_retention_days``."""
    result = s.execute(delete(m.OutgoingEmail).where(m.OutgoingEmail.sent_at < sent_before))
    return int(getattr(result, "rowcount", 0) or 0)
