"""The operator console's live stream: a deployment's alerts, counters and status as
server-sent events (``text/event-stream``), for operators and authorisers.

A stream wakes as soon as a use case on this process commits a change (``LiveFeed``) and
also looks at the database every ``POLL_INTERVAL_S``, so changes made through another
server process arrive too. Streams of one deployment at the same position share their
reads (``live_reads``: twenty consoles woken by one alert make two reads, not twenty).
Each event's id is the audit event that announced it: a client
that reconnects with ``Last-Event-ID`` (browsers do this on their own) is sent what it
missed. Keep-alive comments go out while nothing happens (every 15 s, FastAPI's SSE
support); the stream ends when the client goes, when the server stops, or after telling
the client that no alert will ever arrive (cancelled, or ran and late delivery closed),
and as soon as the caller may no longer watch: at each wake, before anything is sent, the
stream asks whether its session (or key) still stands for someone the powers table lets
watch the console (``live.still_may_watch``), so logging out, deactivation, a role change
or a revoked key ends it (the browser's reconnect is then refused: 401 or 403).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from openlfr.services import live
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action
from openlfr.services.schemas import MAX_ID
from openlfr.web.api import AUTH_ERRORS, NOT_FOUND
from openlfr.web.deps import CredentialsDep, IdPath, PlatformDep, power
from openlfr.web.fresh_reads import FreshReads
from openlfr.web.schemas import AlertOut, LiveCountersOut, LiveStatusOut

router = APIRouter(tags=["live"], responses={**AUTH_ERRORS, **NOT_FOUND})
ConsoleWatcher = Annotated[Actor, power(Action.CONSOLE_WATCH)]

#: How often a stream reads the database when nothing on this process woke it: the
#: longest a change made through another server process takes to arrive.
#: The default of OPENLFR_LIVE_POLL_S.
POLL_INTERVAL_S = 2.0
#: How long a browser waits before reconnecting a dropped stream.
RECONNECT_MS = 1000

_EVENTS: dict[int | str, dict[str, Any]] = {200: {"description": (
    "Server-sent events. `alert`: a new alert (AlertOut). `alert-updated`: an alert was "
    "adjudicated, given an outcome or lost its probe crop (AlertOut, as it stands now). "
    "`counters`: faces seen, tracks, alerts, confirmed, false, unclear, pending, frames "
    "processed and dropped (LiveCountersOut), sent first and whenever they change. "
    "`status`: the deployment's status (LiveStatusOut), sent first and when it changes; "
    "when `ended` is true the stream then ends. Each event's id is an audit sequence "
    "number; lines starting with ':' are keep-alive comments.")}}


#: What a stream asks: (deployment id, after event, with a snapshot of counters and status).
ChangesAsked = tuple[int, int, bool]


def install_live_reads(app: FastAPI, platform: Platform) -> None:
    """The app's shared reads of what changed (one per app: see the module docstring)."""
    app.state.live_reads = FreshReads[ChangesAsked, live.LiveBatch](
        lambda asked: live.read_changes(platform, asked[0], asked[1], snapshot=asked[2]))


def stream_start(
    deployment_id: IdPath,
    actor: ConsoleWatcher,
    platform: PlatformDep,
    after: Annotated[int | None, Query(
        ge=0, le=MAX_ID, description="Send what happened after this event id (e.g. the "
        "position a console page was rendered at); by default, only what happens from "
        "now.")] = None,
    last_event_id: Annotated[int | None, Header(
        ge=0, le=MAX_ID, description="Set by browsers when they reconnect: the last event "
        "id received. Takes precedence over `after`.")] = None,
) -> int:
    """Checked before the response starts, so refusals are plain 401/403/404 answers."""
    resume = last_event_id if last_event_id is not None else after
    return live.open_stream(platform, actor, deployment_id, resume)


@router.get("/deployments/{deployment_id}/live", response_class=EventSourceResponse,
            responses=_EVENTS)
async def live_stream(deployment_id: IdPath, start: Annotated[int, Depends(stream_start)],
                      platform: PlatformDep, credentials: CredentialsDep,
                      request: Request) -> AsyncIterator[ServerSentEvent]:
    """Alerts as they arrive, their adjudications and outcomes, counters and status."""
    reads: FreshReads[ChangesAsked, live.LiveBatch] = request.app.state.live_reads
    cursor, snapshot = start, True
    sent_counters: LiveCountersOut | None = None
    sent_status: LiveStatusOut | None = None
    with platform.live.subscribe(deployment_id) as wake:
        while True:
            batch = await reads.after_now((deployment_id, cursor, snapshot))
            # Asked after the read: whatever was committed after a logout, deactivation or
            # revocation is read after it too, and is not sent.
            if not await run_in_threadpool(live.still_may_watch, platform, credentials):
                return
            last = len(batch.changes) - 1
            for i, change in enumerate(batch.changes):
                # One audit event can announce several alerts: the id goes on the last.
                same_seq_follows = i < last and batch.changes[i + 1].seq == change.seq
                yield ServerSentEvent(event=change.kind, data=AlertOut.model_validate(
                    change.alert), id=None if same_seq_follows else str(change.seq))
            cursor = batch.cursor
            if batch.counters is not None:
                counters = LiveCountersOut.model_validate(batch.counters)
                if counters != sent_counters:
                    yield ServerSentEvent(event="counters", data=counters, id=str(cursor))
                    sent_counters = counters
            if batch.state is not None:
                status = LiveStatusOut(
                    deployment_id=batch.state.deployment_id, reference=batch.state.reference,
                    status=batch.state.status.value, live=batch.state.live,
                    ended=batch.state.ended, message=batch.state.message,
                    late_until=batch.state.late_until)
                if status != sent_status:
                    yield ServerSentEvent(event="status", data=status, id=str(cursor),
                                          retry=RECONNECT_MS if snapshot else None)
                    sent_status = status
                if status.ended:
                    return
            if not await wake.wait(platform.settings.live_poll_s):
                return  # the server is stopping
            # When late delivery closes nothing is written: look again, to say so and end.
            snapshot = (sent_status is not None and sent_status.late_until is not None
                        and platform.clock() >= sent_status.late_until)
