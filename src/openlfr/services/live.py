"""The operator console's live feed: what changed in a deployment since a point in the
audit log, and a broadcaster that wakes the streams waiting for those changes.

Everything the console shows changes only through a use case, and every use case writes an
audit event in the same transaction (alert received, adjudicated, outcome recorded, probe
crops deleted, counters received, each deployment transition). Appends to the audit log are
serialised, so its sequence numbers are committed in order: a stream's position is an audit
``seq``. A stream reads the events after its position, and a client that reconnects with the
last event id it saw is sent exactly what it missed.

``LiveFeed`` only says "deployment N changed", right after the use case commits, so a stream
on this process wakes at once, and with several server processes the others' streams too
(PostgreSQL's LISTEN/NOTIFY, or Redis pub/sub when configured: ``connect_processes``); the
data always comes from the database, and streams also look every few seconds, in case a
wake-up was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from sqlalchemy import Engine, or_, select, text
from sqlalchemy.orm import Session

from openlfr.governance.lifecycle import (
    FINISHED_STATUSES,
    RAN_STATUSES,
    DeploymentStatus,
)
from openlfr.governance.records import Adjudication
from openlfr.services import figures, nodes, overrides, users
from openlfr.services.common import deployment_or_404
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action, may, require
from openlfr.storage import models as m

log = logging.getLogger(__name__)

#: Audit actions about one alert (the event's subject is the alert).
ALERT_RECEIVED = "alert.received"
ALERT_UPDATES = ("alert.adjudicated", "alert.outcome_recorded")
#: Audit actions about the deployment (the event's subject is the deployment).
PROBE_CROPS_DELETED = "alert.probe_crops_deleted"
COUNTERS_RECEIVED = "counters.received"
DEPLOYMENT_ACTIONS = "deployment."


# --- waking streams -----------------------------------------------------------------------


class LiveSubscription:
    """One stream's wake-up call for one deployment. Create it with
    ``LiveFeed.subscribe`` on the event loop that waits; use it as a context manager."""

    def __init__(self, feed: LiveFeed, deployment_id: int) -> None:
        self._feed = feed
        self.deployment_id = deployment_id
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def wake(self) -> None:
        """Wake the waiting stream; safe from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout_s: float) -> bool:
        """Wait until the deployment changes, the feed closes or ``timeout_s`` passes (the
        poll for changes made by other processes). False once the feed is closed."""
        if not self._event.is_set() and not self._feed.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout_s)
        # Cleared before the caller reads the database: a change committed during that
        # read sets it again, so it is never missed.
        self._event.clear()
        return not self._feed.closed

    def __enter__(self) -> LiveSubscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._feed.unsubscribe(self)


class LiveFeed:
    """Wakes the streams watching a deployment when a use case has changed it. Thread-safe:
    use cases run in worker threads, streams on the server's event loop. One per process
    (``Platform.live``); ``close`` ends every stream, e.g. when the server stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[int, set[LiveSubscription]] = {}
        self.closed = False
        self._processes: ProcessWakeups | None = None

    def subscribe(self, deployment_id: int) -> LiveSubscription:
        """Start listening for changes to ``deployment_id`` (call on the event loop)."""
        subscription = LiveSubscription(self, deployment_id)
        with self._lock:
            self._subscriptions.setdefault(deployment_id, set()).add(subscription)
        if self.closed:
            subscription.wake()
        return subscription

    def unsubscribe(self, subscription: LiveSubscription) -> None:
        with self._lock:
            listeners = self._subscriptions.get(subscription.deployment_id, set())
            listeners.discard(subscription)
            if not listeners:
                self._subscriptions.pop(subscription.deployment_id, None)

    def listeners(self, deployment_id: int) -> int:
        """How many streams are watching ``deployment_id`` now."""
        with self._lock:
            return len(self._subscriptions.get(deployment_id, ()))

    def notify(self, deployment_id: int) -> None:
        """Say that ``deployment_id`` changed (after the change is committed): the streams
        of this process wake now, those of the other server processes through the
        database's LISTEN/NOTIFY once ``connect_processes`` has been called."""
        self.notify_here(deployment_id)
        if self._processes is not None:
            self._processes.publish(deployment_id)

    def notify_here(self, deployment_id: int) -> None:
        """Wake this process's streams watching ``deployment_id``."""
        with self._lock:
            waiting = list(self._subscriptions.get(deployment_id, ()))
        for subscription in waiting:
            subscription.wake()

    def connect_processes(self, engine: Engine, redis_url: str | None = None) -> bool:
        """Wake the streams of every server process on this database, not only this one's:
        through Redis pub/sub when ``redis_url`` is given, else PostgreSQL's LISTEN/NOTIFY.
        False (and nothing done) on SQLite without Redis, which runs one server process.
        Called by the web app on start; ``close`` disconnects."""
        if self._processes is not None:
            return False
        if redis_url:
            self._processes = RedisWakeups(redis_url, self).start()
        elif engine.dialect.name == "postgresql":
            self._processes = PostgresWakeups(engine, self).start()
        else:
            return False
        return True

    @property
    def wakeups(self) -> ProcessWakeups | None:
        """How this process hears of the others' changes (None: it does not)."""
        return self._processes

    def close(self) -> None:
        """End every stream now and any stream that starts later."""
        with self._lock:
            self.closed = True
            waiting = [s for group in self._subscriptions.values() for s in group]
        for subscription in waiting:
            subscription.wake()
        if self._processes is not None:
            self._processes.close()


#: The channel (PostgreSQL NOTIFY, or Redis pub/sub) on which server processes tell each
#: other "deployment N changed".
CHANNEL = "openlfr_live"


class ProcessWakeups:
    """Wake-ups between server processes. ``publish`` only notes the deployment (a request
    never waits for it); a thread sends what was noted, each deployment once, as
    ``'<process>:<deployment id>'`` on ``CHANNEL``. Another thread listens and wakes this
    process's streams for the other processes' changes, reconnecting after an error (the
    streams' own poll covers the gap). Subclasses say how to send and how to listen."""

    kind = "?"

    def __init__(self, feed: LiveFeed) -> None:
        self._feed = feed
        self._me = f"{os.getpid()}-{id(self)}"
        self._stop = threading.Event()
        self.listening = threading.Event()
        self._noted: set[int] = set()
        self._noted_lock = threading.Lock()
        self._send_now = threading.Event()
        self._threads = [threading.Thread(target=target, name=name, daemon=True)
                         for target, name in ((self._listen, "openlfr-live-listen"),
                                              (self._send, "openlfr-live-notify"))]

    def start(self) -> ProcessWakeups:
        for thread in self._threads:
            thread.start()
        return self

    def publish(self, deployment_id: int) -> None:
        with self._noted_lock:
            self._noted.add(deployment_id)
        self._send_now.set()

    def _send(self) -> None:
        while not self._stop.is_set():
            self._send_now.wait(1.0)
            self._send_now.clear()
            with self._noted_lock:
                noted, self._noted = self._noted, set()
            if not noted:
                continue
            try:
                self.send([f"{self._me}:{d}" for d in sorted(noted)])
            except Exception:  # the changes are committed; other consoles poll
                log.warning("could not tell the other server processes (%s) about "
                            "deployments %s", self.kind, sorted(noted), exc_info=True)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                self.listen(self._heard)
            except Exception:
                self.listening.clear()
                log.warning("live wake-ups between processes (%s) interrupted; retrying",
                            self.kind, exc_info=True)
                self._stop.wait(1.0)

    def _heard(self, payload: str) -> None:
        sender, _, deployment = payload.rpartition(":")
        if sender != self._me and deployment.isdigit():
            self._feed.notify_here(int(deployment))

    def send(self, payloads: list[str]) -> None:
        raise NotImplementedError

    def listen(self, heard: Callable[[str], None]) -> None:
        """Connect, set ``self.listening``, and call ``heard`` with each payload until
        ``self._stop`` is set (return) or the connection fails (raise)."""
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        self._send_now.set()
        for thread in self._threads:
            thread.join(timeout=5)


class PostgresWakeups(ProcessWakeups):
    """Through the database itself: ``NOTIFY openlfr_live`` and a connection that LISTENs."""

    kind = "PostgreSQL LISTEN/NOTIFY"

    def __init__(self, engine: Engine, feed: LiveFeed) -> None:
        super().__init__(feed)
        self._engine = engine

    def send(self, payloads: list[str]) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT pg_notify(:channel, :payload)"),
                               [{"channel": CHANNEL, "payload": p} for p in payloads])
            connection.commit()

    def listen(self, heard: Callable[[str], None]) -> None:
        import psycopg

        dsn = self._engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                for message in connection.notifies(timeout=1.0):
                    heard(message.payload)


class RedisWakeups(ProcessWakeups):
    """Through Redis pub/sub (``OPENLFR_LIVE_WAKEUPS_URL``), keeping the database's
    connections for requests."""

    kind = "Redis pub/sub"

    def __init__(self, url: str, feed: LiveFeed) -> None:
        import redis

        super().__init__(feed)
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def send(self, payloads: list[str]) -> None:
        with self._redis.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.publish(CHANNEL, payload)
            pipe.execute()

    def listen(self, heard: Callable[[str], None]) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL)
            pubsub.check_health()
            self.listening.set()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "message":
                    data = message["data"]
                    heard(data.decode() if isinstance(data, bytes) else str(data))
        finally:
            pubsub.close()

    def close(self) -> None:
        super().close()
        self._redis.close()


# --- what changed ------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveChange:
    """An alert to show: new (``alert``) or changed (``alert-updated``), as it stands now.
    ``seq`` is the audit event that announced it (the stream's event id)."""

    seq: int
    kind: str
    alert: m.Alert


@dataclass(frozen=True)
class LiveCounters:
    """The counters the console shows, from the published figures."""

    faces_seen: int
    tracks: int
    alerts: int
    confirmed: int
    false_alerts: int
    unclear: int
    pending: int
    frames_processed: int
    frames_dropped: int
    frames_near_behind: int


@dataclass(frozen=True)
class LiveState:
    """Where the deployment is in its life, as the console tells the operator.
    ``late_until``: after the end, until when a node may still deliver alerts it recorded
    before the end (None when that time has passed, or the deployment never ran)."""

    deployment_id: int
    reference: str
    status: DeploymentStatus
    late_until: datetime | None = None

    @property
    def live(self) -> bool:
        """Alerts can arrive now."""
        return self.status is DeploymentStatus.ACTIVE

    @property
    def ended(self) -> bool:
        """No alert will ever arrive: the stream ends after saying so. A completed
        deployment's stream stays open while late delivery is open."""
        return self.status in FINISHED_STATUSES and self.late_until is None

    @property
    def message(self) -> str:
        late = ("; an alert the engine recorded before the end and delivers late still "
                f"appears here until {self.late_until:%d %B %Y, %H:%M} UTC"
                if self.late_until is not None else "; no more alerts will arrive")
        if self.live:
            return "Active: alerts appear here as the engine sends them."
        if self.status is DeploymentStatus.AUTHORISED:
            return "Authorised, not active yet: activate it to start the engine."
        if self.status is DeploymentStatus.COMPLETED:
            return (f"Completed: the engine has stopped and the watchlist was destroyed{late}. "
                    "Record any outcomes missing.")
        if self.status is DeploymentStatus.REVIEWED:
            return f"Completed and reviewed{late}."
        if self.status is DeploymentStatus.CANCELLED:
            return "Cancelled: it will not run."
        return (f"Not active yet ({self.status.value.replace('_', ' ')}): it must be "
                "authorised and activated before the engine runs.")


def live_state(p: Platform, d: m.Deployment) -> LiveState:
    """The deployment's state now, with how long late delivery stays open after it ran."""
    status = DeploymentStatus(d.status)
    late_until: datetime | None = None
    if status in RAN_STATUSES and status is not DeploymentStatus.ACTIVE:
        closes = nodes.late_delivery_closes(p, d)
        late_until = closes if p.clock() < closes else None
    return LiveState(d.id, d.reference, status, late_until)


@dataclass(frozen=True)
class LiveBatch:
    """What a stream sends next. ``cursor`` is its new position; ``counters`` and
    ``state`` are None when nothing relevant happened (nothing to recompute)."""

    cursor: int
    changes: list[LiveChange]
    counters: LiveCounters | None
    state: LiveState | None


def _head_seq(session: Session) -> int:
    head = session.get(m.AuditHead, 1)
    return head.seq if head is not None else 0


def open_stream(p: Platform, actor: Actor, deployment_id: int, after: int | None) -> int:
    """Check that ``actor`` may watch ``deployment_id`` and return the stream's starting
    position: ``after`` (the last event id the client saw), or now. A position beyond the
    end of the log (a client from before the database was replaced) starts now."""
    require(actor, Action.CONSOLE_WATCH)
    with p.sessions() as s:
        deployment_or_404(s, deployment_id)
        head = _head_seq(s)
    return head if after is None else min(after, head)


def still_may_watch(p: Platform, credentials: users.Credentials) -> bool:
    """Whether the session or key a stream was opened with still stands for someone who
    may watch the console (the powers table): False once they logged out, were
    deactivated or given another role, or the key was revoked. A stream asks before it
    sends anything and at every poll, and ends on False. One indexed read, no write."""
    actor = users.actor_for_credentials(p, credentials)
    return actor is not None and may(actor.role, Action.CONSOLE_WATCH)


def current_position(p: Platform) -> int:
    """The audit log's last sequence number: where a page rendered now should resume."""
    with p.sessions() as s:
        return _head_seq(s)


def counters_in(session: Session, d: m.Deployment) -> LiveCounters:
    total = figures.deployment_figures_in(session, d).total
    return LiveCounters(
        faces_seen=total.faces_seen, tracks=total.tracks, alerts=total.alerts,
        confirmed=total.confirmed, false_alerts=total.false_alerts, unclear=total.unclear,
        pending=total.pending, frames_processed=total.frames_processed,
        frames_dropped=total.frames_dropped, frames_near_behind=total.frames_near_behind)


def read_changes(p: Platform, deployment_id: int, after: int, *,
                 snapshot: bool = False) -> LiveBatch:
    """What happened to ``deployment_id`` after audit event ``after``: alerts received
    or changed (each as it stands now) and, when anything relevant happened or
    ``snapshot`` is asked for, the counters and status."""
    with p.sessions() as s:
        # The head first: every event up to it is committed, so none is skipped.
        cursor = max(after, _head_seq(s))
        rows = s.execute(select(
            m.AuditEvent.seq, m.AuditEvent.action, m.AuditEvent.subject_type,
            m.AuditEvent.subject_id, m.AuditEvent.details,
        ).where(
            m.AuditEvent.seq > after,
            or_(m.AuditEvent.action.in_((ALERT_RECEIVED, *ALERT_UPDATES, PROBE_CROPS_DELETED,
                                         COUNTERS_RECEIVED)),
                m.AuditEvent.action.startswith(DEPLOYMENT_ACTIONS)),
        ).order_by(m.AuditEvent.seq)).all()
        cursor = max([cursor, *(r.seq for r in rows)])
        mentioned: list[tuple[int, str, int]] = []  # (seq, kind, alert id)
        relevant = snapshot
        for seq, action, subject_type, subject_id, details in rows:
            if subject_type == "alert":
                kind = "alert" if action == ALERT_RECEIVED else "alert-updated"
                mentioned.append((seq, kind, int(subject_id)))
            elif subject_type == "deployment" and subject_id == str(deployment_id):
                relevant = True
                if action == PROBE_CROPS_DELETED:
                    mentioned += [(seq, "alert-updated", int(i))
                                  for i in json.loads(details).get("alert_ids", [])]
        alerts = {a.id: a for a in s.scalars(select(m.Alert).where(
            m.Alert.id.in_({i for _, _, i in mentioned}),
            m.Alert.deployment_id == deployment_id))} if mentioned else {}
        changes = [LiveChange(seq, kind, alerts[i]) for seq, kind, i in mentioned
                   if i in alerts]
        if not (relevant or changes):
            return LiveBatch(cursor, [], None, None)
        d = deployment_or_404(s, deployment_id)
        return LiveBatch(cursor, changes, counters_in(s, d), live_state(p, d))


# --- the console page's first view ------------------------------------------------------


@dataclass(frozen=True)
class ConsoleAlert:
    """An alert as the console lists it, with whether each photo can still be shown."""

    alert: m.Alert
    has_reference_photo: bool

    @property
    def needs_adjudication(self) -> bool:
        return self.alert.adjudication == Adjudication.PENDING.value

    @property
    def needs_outcome(self) -> bool:
        return self.alert.outcome is None


@dataclass(frozen=True)
class ConsoleView:
    """Everything the console shows when it is opened, and the audit position it was read
    at (the live stream resumes from there, so nothing falls between)."""

    deployment: m.Deployment
    state: LiveState
    counters: LiveCounters
    alerts: list[ConsoleAlert]
    position: int
    #: The failed checks it was authorised or activated despite (a countersigned
    #: override): the console says so in a banner.
    went_ahead_despite: list[str]


def alert_order(a: ConsoleAlert) -> tuple[int, float, int]:
    """Alerts waiting for a decision first, then those waiting for an outcome, then the
    rest; newest first within each."""
    rank = 0 if a.needs_adjudication else 1 if a.needs_outcome else 2
    return rank, -a.alert.occurred_at.timestamp(), -a.alert.id


def console_view(p: Platform, actor: Actor, deployment_id: int) -> ConsoleView:
    """The console as it stands: the deployment, its counters and every alert."""
    require(actor, Action.CONSOLE_WATCH)
    with p.sessions() as s:
        position = _head_seq(s)
        d = deployment_or_404(s, deployment_id)
        alerts = list(s.scalars(select(m.Alert).where(m.Alert.deployment_id == d.id)))
        entry_ids = {a.entry_id for a in alerts if a.entry_id is not None}
        with_photo = set(s.scalars(select(m.WatchlistEntry.id).where(
            m.WatchlistEntry.id.in_(entry_ids),
            m.WatchlistEntry.image_encrypted.is_not(None)))) if entry_ids else set()
        listed = sorted((ConsoleAlert(a, a.entry_id in with_photo) for a in alerts),
                        key=alert_order)
        return ConsoleView(d, live_state(p, d), counters_in(s, d), listed, position,
                           overrides.went_ahead_despite(s, d.id))
