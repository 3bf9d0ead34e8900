"""Retention: personal data is deleted when its time is up, and each deletion is audited.

Run at start-up and then periodically by the web app (see openlfr.web.app)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from openlfr.audit import append_event
from openlfr.governance.lifecycle import FINISHED_STATUSES
from openlfr.services.platform import SYSTEM_ACTOR, Platform
from openlfr.services.watchlists import destroy_watchlist_in
from openlfr.storage import models as m


@dataclass(frozen=True)
class RetentionReport:
    expired_entries_deleted: int
    watchlists_destroyed: int
    sessions_deleted: int


def apply_retention(p: Platform) -> RetentionReport:
    """Delete watchlist entries past their expiry date, destroy any watchlist whose
    deployment has finished, and drop expired login sessions. One transaction."""
    now = p.clock()
    today = now.date()
    expired_total = destroyed = 0
    with p.sessions.begin() as s:
        live = s.scalars(select(m.Watchlist).where(m.Watchlist.destroyed_at.is_(None)))
        for w in list(live):
            deployment = s.get(m.Deployment, w.deployment_id)
            if deployment is not None and deployment.status in FINISHED_STATUSES:
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
        sessions = s.execute(delete(m.LoginSession).where(m.LoginSession.expires_at <= now))
    return RetentionReport(expired_total, destroyed, int(getattr(sessions, "rowcount", 0) or 0))
