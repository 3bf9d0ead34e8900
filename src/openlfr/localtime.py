"""Times as people in London read them: local time first (GMT or BST), with UTC beside it,
e.g. "Sun 12 July 2026, 11:00 BST (10:00 UTC)". The one formatting helper for pages,
feeds and e-mails; the platform stores and computes in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

#: Where the deployments are: local times on pages and in e-mails are this zone's.
LOCAL_ZONE = ZoneInfo("Europe/London")


def local(moment: datetime) -> datetime:
    """``moment`` (aware, or naive UTC) in Europe/London."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(LOCAL_ZONE)


def when(moment: datetime) -> str:
    """A time in London first, then in UTC: "Sun 22 March 2026, 10:00 GMT (10:00 UTC)"."""
    here = local(moment)
    utc = here.astimezone(UTC)
    return f"{here:%a} {here.day} {here:%B %Y, %H:%M} {here.tzname()} ({utc:%H:%M} UTC)"


def day(moment: datetime | date) -> str:
    """The date alone, as London's calendar has it: "22 March 2026"."""
    if isinstance(moment, datetime):
        moment = local(moment)
    return f"{moment.day} {moment:%B %Y}"
