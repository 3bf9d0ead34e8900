"""Retention: personal data is deleted when its time is up, and each deletion is audited.

Run at start-up and then periodically by the web app (see openlfr.web.app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from openlfr.audit import append_event
from openlfr.governance.lifecycle import DeploymentStatus, watchlist_must_go
from openlfr.services.mailer import purge_sent_emails
from openlfr.services.notices import purge_stale_subscriptions
from openlfr.services.platform import SYSTEM_ACTOR, Platform
from openlfr.services.watchlists import destroy_watchlist_in
from openlfr.storage import models as m


@dataclass(frozen=True)
class RetentionReport:
    expired_entries_deleted: int
    watchlists_destroyed: int
    sessions_deleted: int
    probe_crops_deleted: int = 0
    sent_emails_deleted: int = 0
    subscriptions_deleted: int = 0


def apply_retention(p: Platform) -> RetentionReport:
    """Delete watchlist entries past their expiry date, destroy any watchlist whose
    deployment has finished or whose published window is over (``watchlist_must_go``),
    delete probe crops older than their retention, drop
    expired login sessions, and delete sent e-mails older than ``sent_email_retention_days``
    and subscriptions unconfirmed or ended that long ago. One transaction; each deletion
    of personal data is audited."""
    now = p.clock()
    today = now.date()
    expired_total = destroyed = 0
    with p.sessions.begin() as s:
        live = s.scalars(select(m.Watchlist).where(m.Watchlist.destroyed_at.is_(None)))
        for w in list(live):
            deployment = s.get(m.Deployment, w.deployment_id)
            if deployment is not None and watchlist_must_go(
                    DeploymentStatus(deployment.status), deployment.end_at, now,
                    timedelta(hours=p.settings.late_delivery_hours)):
                destroy_watchlist_in(s, SYSTEM_ACTOR, w.deployment_id, now)
                destroyed += 1
                continue
            expired = list(s.scalars(select(m.WatchlistEntry.id).where(
                m.WatchlistEntry.watchlist_id == w.id, m.WatchlistEntry.expires_on < today)))
            if expired:
                s.execute(delete(m.WatchlistEntry).where(m.WatchlistEntry.id.in_(expired)))
                w.built_at = None  # the list changed: it must be rebuilt and re-checked
                expired_total += len(expired)
                append_event(s, actor=SYSTEM_ACTOR.audit_name, action="watchlist.entries_expired",
                             subject_type="watchlist", subject_id=w.id,
                             details={"entry_ids": expired}, now=now)
        crops = _purge_probe_crops(s, now - timedelta(hours=p.settings.probe_crop_retention_hours),
                                   now)
        sessions = s.execute(delete(m.LoginSession).where(m.LoginSession.expires_at <= now))
        mail_before = now - timedelta(days=p.settings.sent_email_retention_days)
        emails = purge_sent_emails(s, mail_before)
        if emails:
            append_event(s, actor=SYSTEM_ACTOR.audit_name, action="email.sent_deleted",
                         subject_type="outgoing_emails", subject_id="retention",
                         details={"count": emails, "sent_before": mail_before.isoformat(),
                                  "reason": "retention ended"}, now=now)
        subscriptions = purge_stale_subscriptions(s, mail_before, now)
    return RetentionReport(expired_total, destroyed, int(getattr(sessions, "rowcount", 0) or 0),
                           crops, emails, subscriptions)


def _purge_probe_crops(s: Session, received_before: datetime, now: datetime) -> int:
    """Delete the probe crops of alerts received before ``received_before``; one audit
    event per deployment, naming the alerts."""
    rows = s.execute(select(m.Alert.id, m.Alert.deployment_id).where(
        m.Alert.probe_crop_encrypted.is_not(None), m.Alert.received_at < received_before)).all()
    by_deployment: dict[int, list[int]] = {}
    for alert_id, deployment_id in rows:
        by_deployment.setdefault(deployment_id, []).append(alert_id)
    for deployment_id, alert_ids in sorted(by_deployment.items()):
        s.execute(update(m.Alert).where(m.Alert.id.in_(alert_ids)).values(
            probe_crop_encrypted=None, probe_crop_purged_at=now))
        append_event(s, actor=SYSTEM_ACTOR.audit_name, action="alert.probe_crops_deleted",
                     subject_type="deployment", subject_id=deployment_id,
                     details={"alert_ids": alert_ids, "reason": "retention ended"}, now=now)
    return len(rows)
