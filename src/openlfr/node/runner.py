"""An engine node's run for one deployment, start to stop.

1. Ask the platform whether the deployment may run (refused: say why and stop). Items an
   earlier run left in the outbox are sent first, even if the deployment has ended since
   (the platform takes them for its late-delivery time).
2. Fetch the watchlist (descriptors and categories; never subject references) into memory
   only, and run the engine on the source with the deployment's threshold.
3. Each alert is JPEG-encoded with its probe crop and committed to the outbox; a sender
   thread posts it and deletes it only when the platform acknowledged it. Counts go the
   same way in periodic batches. An item the platform refuses for good (400, 409, 413,
   422) is quarantined in the outbox with the platform's reason, and the others go on.
4. Stop when the deployment is no longer active (polled every few seconds, and on any 409),
   when its published end passes, when the source ends, or on Ctrl-C/SIGTERM. Then: stop
   the pipeline, drop the watchlist from memory, empty the outbox (an interrupt leaves
   pending items for the next start), and report the drop to the platform's audit log.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import platformdirs

from openlfr.interrupts import interrupt_main, sigterm_as_interrupt
from openlfr.node.client import (
    BATCH_ITEMS,
    DeploymentStatus,
    PlatformClient,
    PlatformRefused,
    PlatformUnreachable,
)
from openlfr.node.outbox import QUARANTINED, HeldItems, Outbox, OutboxItem, QuarantinedItem
from openlfr.node.source import ClockedSource
from openlfr.recognition import (
    Alert,
    Counters,
    EngineConfig,
    FaceAnalyzer,
    RecognitionError,
    Watcher,
    Watchlist,
)
from openlfr.recognition.analyzer import reference_model_id
from openlfr.recognition.backends import descriptor_for_model, resolve_detector
from openlfr.recognition.faces import RGBImage
from openlfr.recognition.watchlist import EnrolledImage, Subject

_T = TypeVar("_T")

#: A report the node makes as it works (printed by the CLI as text or JSON lines).
Event = dict[str, Any]

PROBE_JPEG_QUALITY = 90
#: After a stop was asked for, how long the pipeline has to notice before it is interrupted
#: (a stalled live source yields no frame that would let it notice by itself).
STOP_GRACE_S = 5.0
#: How long an interrupted node still tries to deliver before leaving items for next time.
INTERRUPT_FLUSH_S = 2.0
#: The counts a counter batch carries (each the change since the last batch).
BATCH_COUNTS = ("faces_seen", "tracks", "frames_processed", "frames_dropped",
                "frames_near_behind")


def default_outbox_dir() -> Path:
    """The user's data folder for openlfr, sub-folder ``node-outbox``."""
    return platformdirs.user_data_path("openlfr") / "node-outbox"


class NodeError(Exception):
    """The node cannot run (or had to stop); the message says why and what to do."""


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node run needs; the CLI fills it from its options."""

    platform_url: str
    api_key: str
    deployment: str
    """The deployment's reference (LFR-2026-0007) or its numeric id."""
    source: str
    camera: str = "camera-1"
    outbox_dir: Path = field(default_factory=default_outbox_dir)
    workers: int = 2
    min_face_px: int = EngineConfig.min_face_px
    detect_max_px: int = EngineConfig.detect_max_px
    full_detection_every: int = EngineConfig.full_detection_every
    full_detection_every_small: int = EngineConfig.full_detection_every_small
    shed_when_behind: int = EngineConfig.shed_when_behind
    backend: str = "auto"
    detector: str = "auto"
    max_reconnects: int | None = 20
    loop: bool = False
    counters_interval_s: float = 10.0
    poll_interval_s: float = 2.0
    timeout_s: float = 10.0
    backoff_start_s: float = 0.5
    backoff_max_s: float = 30.0
    flush_timeout_s: float | None = None
    """How long to keep trying to empty the outbox at the end (None: until it is empty)."""
    connect_timeout_s: float = 60.0
    """How long to wait for the platform to answer at start."""

    def engine_config(self, threshold: float, second_opinion: bool) -> EngineConfig:
        """The engine's settings for a run: the deployment's threshold and decision rule
        (the platform's, never the node's to choose) with this node's detection settings."""
        return EngineConfig(threshold=threshold, workers=self.workers,
                            min_face_px=self.min_face_px, detect_max_px=self.detect_max_px,
                            full_detection_every=self.full_detection_every,
                            full_detection_every_small=self.full_detection_every_small,
                            shed_when_behind=self.shed_when_behind,
                            second_opinion=second_opinion)


@dataclass
class NodeSummary:
    deployment: str
    deployment_id: int | None
    stop_reason: str
    """deployment_ended, source_ended, interrupted, refused (not active) or error."""
    detail: str | None = None
    alerts_raised: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    refused_counts: dict[str, int] = field(default_factory=dict)
    """Counts in counter batches the platform refused (recorded after the end)."""
    pending: int = 0
    """This deployment's items still to be sent (at the next start)."""
    quarantined: int = 0
    """This deployment's items the platform refused for good, kept in the outbox (this
    run's and earlier runs'); ``quarantine_reasons`` says why."""
    quarantine_reasons: list[dict[str, Any]] = field(default_factory=list)
    """Per status code and reason: {"status_code", "reason", "items"}."""
    held_for_others: list[dict[str, Any]] = field(default_factory=list)
    """Items the outbox holds for other deployments (or platforms), which only a run for
    that deployment (with its key) sends: ``HeldItems.to_json`` each."""
    engine: dict[str, int] | None = None
    watchlist_dropped: bool = False
    outbox_removed: bool = False
    elapsed_s: float = 0.0

    def to_json(self) -> Event:
        return {"type": "summary", **self.__dict__}


class _Stop(Exception):
    """Raised inside the pipeline's progress callback to end the run."""


class Sender:
    """Posts outbox items in order and deletes each once the platform acknowledged it; an
    item the platform refuses for good is quarantined (kept, with the reason) and the
    others go on. Runs as a thread during the run, and synchronously (``flush``) before
    and after."""

    def __init__(self, outbox: Outbox, client: PlatformClient, deployment_id: int,
                 report: Callable[[Event], None], backoff_start_s: float,
                 backoff_max_s: float) -> None:
        self.outbox, self.client, self.deployment_id = outbox, client, deployment_id
        self.platform = client.api_root
        self.report = report
        self.backoff_start_s, self.backoff_max_s = backoff_start_s, backoff_max_s
        self.delay_s = backoff_start_s
        """The wait after the next failure (doubles per failure, resets on success)."""
        self._next_wait_s = backoff_start_s
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.refused_counts: Counter[str] = Counter()
        self.ended: PlatformRefused | None = None
        """A 409: the deployment no longer takes what this node sends."""
        self.fatal: PlatformRefused | None = None
        """A 4xx about every item (revoked key, unknown deployment): sending cannot go on."""
        self.second_chance: set[int] = set()
        """Items refused with 409 by an earlier run and sent again now that the deployment
        is active: a second 409 sets them aside again, but does not stop the run."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._batches = True
        """Send a backlog in batch requests (off once the platform says it has none)."""
        self._thread: threading.Thread | None = None

    def pending(self) -> int:
        return self.outbox.count(self.platform, self.deployment_id)

    def notify(self) -> None:
        self._wake.set()

    def send_due(self) -> bool:
        """One pass over the waiting items, oldest first; stops when the platform cannot be
        reached or refuses every item (``fatal``). True when nothing is left to send. A
        backlog goes in batch requests (one transaction each on the platform); a batch the
        platform refuses is sent again one item at a time, which finds the item it refuses
        and quarantines it alone."""
        while True:
            items = self.outbox.pending(self.platform, self.deployment_id,
                                        limit=BATCH_ITEMS if self._batches else 50)
            if not items:
                return True
            if len(items) > 1 and self._batches:
                sent = self._send_batch(items)
                if sent is False:
                    return False
                if sent:
                    continue
            for item in items:
                if not self._send(item):
                    return False

    def _send_batch(self, items: list[OutboxItem]) -> bool | None:
        """True: all acknowledged; False: unreachable (retry later); None: refused."""
        try:
            self.client.send_batch(self.deployment_id, [(i.kind, i.payload) for i in items])
        except PlatformUnreachable as exc:
            return self._unreachable(items[0], exc)
        except PlatformRefused as exc:
            if exc.status_code in (404, 405):
                self._batches = False  # a platform without the batch endpoint
            return None
        self.delay_s = self.backoff_start_s
        for item in items:
            self.outbox.ack(item.id)
            self.sent[item.kind] += 1
        pending = self.pending()
        for item in items:
            self.report({"type": "sent", "kind": item.kind, "uid": item.uid,
                         "pending": pending})
        return True

    def _unreachable(self, item: OutboxItem, exc: PlatformUnreachable) -> bool:
        self.outbox.failed(item.id, str(exc))
        self._next_wait_s = self.delay_s
        self.delay_s = min(self.delay_s * 2, self.backoff_max_s)
        self.report({"type": "unreachable", "error": str(exc),
                     "retry_in_s": self._next_wait_s, "pending": self.pending()})
        return False

    def _send(self, item: OutboxItem) -> bool:
        try:
            self.client.send(self.deployment_id, item.kind, item.payload)
        except PlatformUnreachable as exc:
            return self._unreachable(item, exc)
        except PlatformRefused as exc:
            if not exc.item_refused:  # the key or the deployment: no item can go
                self.outbox.failed(item.id, str(exc))
                self.fatal = exc
                return False
            self._quarantine(item, exc)
            return True
        self.outbox.ack(item.id)
        self.sent[item.kind] += 1
        self.delay_s = self.backoff_start_s
        self.report({"type": "sent", "kind": item.kind, "uid": item.uid,
                     "pending": self.pending()})
        return True

    def _quarantine(self, item: OutboxItem, exc: PlatformRefused) -> None:
        """The platform refused the item for good (invalid, or a 409: recorded after the
        end, late delivery closed, the deployment not active): set it aside with the reason,
        kept on disk and reported, so that the items behind it are still delivered."""
        self.outbox.quarantine(item.id, exc.status_code, exc.detail)
        if exc.not_accepted_now and item.id not in self.second_chance:
            self.ended = exc
        self.refused[item.kind] += 1
        if item.kind == "counters":
            for key in BATCH_COUNTS:
                self.refused_counts[key] += int(item.payload.get(key, 0) or 0)
        self.report({"type": "refused", "kind": item.kind, "uid": item.uid,
                     "status_code": exc.status_code, "detail": exc.detail,
                     "quarantined": True, "pending": self.pending()})

    def _wait_after_failure(self, stop: threading.Event) -> None:
        stop.wait(self._next_wait_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="openlfr-node-sender",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and self.fatal is None:
            try:
                done = self.send_due()
            except Exception as exc:  # the thread must outlive any one item
                # A failure nobody foresaw (the disk, a bug): say so and try again later;
                # a dead sender would leave every later alert queued and unsent, silently.
                self._next_wait_s = self.delay_s
                self.delay_s = min(self.delay_s * 2, self.backoff_max_s)
                _report_safely(self.report, {
                    "type": "unexpected_error", "thread": "sender",
                    "error": f"{type(exc).__name__}: {exc}", "retry_in_s": self._next_wait_s})
                done = False
            if done:
                self._wake.wait(0.5)
                self._wake.clear()
            elif self.fatal is None:
                self._wait_after_failure(self._stop)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def flush(self, timeout_s: float | None, give_up: threading.Event | None = None) -> bool:
        """Keep sending until the outbox is empty (True), sending cannot go on, ``timeout_s``
        passes or ``give_up`` is set (False). Ctrl-C gives up at once (False)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        give_up = give_up or threading.Event()
        try:
            while not give_up.is_set():
                if self.send_due():
                    return True
                if self.fatal is not None:
                    return False
                if deadline is not None and time.monotonic() + self._next_wait_s > deadline:
                    return False
                self._wait_after_failure(give_up)
            return False
        except KeyboardInterrupt:
            return False


class NodeRunner:
    """One run of a node. ``run()`` returns the summary; progress goes to ``report``."""

    def __init__(self, config: NodeConfig, report: Callable[[Event], None],
                 make_analyzer: Callable[[str], FaceAnalyzer] | None = None) -> None:
        """``make_analyzer`` builds the engine's analyzer for the watchlist's descriptor
        model (default: load the networks here; the fleet describes on shared actors)."""
        self.config = config
        self.report = report
        self._make_analyzer = make_analyzer
        self.run_id = uuid.uuid4().hex[:16]
        self._stop_reason: str | None = None
        self._stop_detail: str | None = None
        self._stop_requested = threading.Event()
        self._stop_noticed = threading.Event()
        self._pipeline_done = threading.Event()
        self._threads_started = False
        self._signalled = threading.Event()
        """Set by the first SIGTERM or Ctrl-C while the node can stop at a safe point."""
        self._safe_stop = False
        #: The watchlist was fetched, and the platform was told it was dropped.
        self._fetched = self._drop_reported = False
        """True while a signal may only ask the pipeline (or the final flush) to stop."""
        self._forcing = False
        self._in_main_thread = True
        self._last_batch: dict[str, int] = dict.fromkeys(BATCH_COUNTS, 0)
        self._batch_started = datetime.now(UTC)
        self._batch_at = time.monotonic()
        self._alerts = 0
        self._platform_threshold: float | None = None
        """The threshold the platform's status said last (set by the poll thread; the
        pipeline applies it between frames)."""

    # --- start ---------------------------------------------------------------------------

    def _client(self) -> PlatformClient:
        c = self.config
        return PlatformClient(c.platform_url, c.api_key, timeout_s=c.timeout_s)

    def _resolve(self, client: PlatformClient) -> DeploymentStatus:
        """The deployment's status, waiting (with back-off) while the platform is down."""
        c = self.config
        if c.deployment.isdigit():
            return self._patiently(lambda: client.deployment(int(c.deployment)), "")
        return self._patiently(lambda: client.deployment_by_reference(c.deployment), "")

    def _patiently(self, call: Callable[[], _T], what: str) -> _T:
        """``call``'s answer, tried again with back-off while the platform is unreachable
        (no answer, or a 5xx), for up to ``connect_timeout_s``; a refusal is final.
        ``what`` names the call in the error ("" for the start's first call)."""
        c = self.config
        deadline = time.monotonic() + c.connect_timeout_s
        delay = c.backoff_start_s
        while True:
            try:
                return call()
            except PlatformRefused as exc:
                raise NodeError(f"{what}: {exc.detail}" if what else exc.detail) from None
            except PlatformUnreachable as exc:
                if time.monotonic() + delay > deadline:
                    if what:
                        raise NodeError(f"{what}: {exc}") from None
                    raise NodeError(f"cannot reach the platform at {c.platform_url} ({exc}); "
                                    "check the address and the network") from None
                self.report({"type": "unreachable", "error": str(exc), "retry_in_s": delay,
                             "pending": None})
                time.sleep(delay)
                delay = min(delay * 2, c.backoff_max_s)

    def _take_stock(self, status: DeploymentStatus, outbox: Outbox, sender: Sender) -> None:
        """At the start: note the deployment's deadlines in the outbox, and give items the
        platform refused with a 409 another chance when the deployment may run again (it
        was not active, e.g. sent back by an amendment)."""
        outbox.remember_deployment(
            sender.platform, status.deployment_id, status.reference, status.end_at.isoformat(),
            None if status.late_delivery_until is None
            else status.late_delivery_until.isoformat())
        if status.may_run:
            sender.second_chance.update(
                q.id for q in outbox.quarantined(sender.platform, status.deployment_id)
                if q.status_code == 409)
            requeued = outbox.requeue(sender.platform, status.deployment_id, status_code=409)
            if requeued:
                self.report({"type": "requeued", "items": requeued,
                             "why": "refused with 409 before; the deployment is active"})

    def _report_backlog(self, status: DeploymentStatus, outbox: Outbox,
                        sender: Sender) -> int:
        """Say what the outbox holds at the start: this deployment's items to send (this
        run sends them first), its quarantined items, and other deployments' items (which
        this run does not send). Returns how many items this run has to send."""
        backlog = sender.pending()
        quarantined = outbox.quarantined(sender.platform, status.deployment_id)
        others = held_for_others(outbox, sender.platform, status.deployment_id)
        if backlog or quarantined or others:
            self.report({"type": "backlog", "deployment": status.reference,
                         "pending": backlog, "quarantined": len(quarantined),
                         "quarantine_reasons": quarantine_reasons(quarantined),
                         "held_for_others": [h.to_json() for h in others]})
        return backlog

    def run(self) -> NodeSummary:
        started = time.monotonic()
        c = self.config
        self._in_main_thread = threading.current_thread() is threading.main_thread()
        outbox = Outbox.in_folder(c.outbox_dir, c.api_key)
        client = self._client()
        summary = NodeSummary(deployment=c.deployment, deployment_id=None, stop_reason="error")
        sender: Sender | None = None
        try:
            with sigterm_as_interrupt(self._ask_to_stop):  # SIGTERM stops like Ctrl-C
                status = self._resolve(client)
                summary.deployment, summary.deployment_id = status.reference, status.deployment_id
                self.report({"type": "status", "deployment": status.reference,
                             "deployment_id": status.deployment_id, "status": status.status,
                             "may_run": status.may_run, "reason": status.reason,
                             "threshold": status.threshold,
                             "end_at": status.end_at.isoformat()})
                sender = Sender(outbox, client, status.deployment_id, self.report,
                                c.backoff_start_s, c.backoff_max_s)
                self._take_stock(status, outbox, sender)
                # Items sealed with another API key are refused here, not mid-run.
                outbox.pending(sender.platform, status.deployment_id, limit=1)
                backlog = self._report_backlog(status, outbox, sender)
                if not status.may_run:
                    # Deliver what an earlier run recorded (late delivery), then refuse.
                    if backlog:
                        sender.flush(c.flush_timeout_s)
                    summary.stop_reason, summary.detail = "refused", status.reason
                else:
                    if backlog:
                        sender.send_due()  # one pass; the sender thread does the rest
                    reason, detail = self._run_pipeline(status, outbox, sender, summary)
                    self._finish(reason, detail, sender, summary)
        except KeyboardInterrupt:
            summary.stop_reason = "interrupted"
        except Exception:
            # An unexpected failure (the disk, a library, the fleet): the pipeline dropped
            # the watchlist on its way out; the platform's audit log hears of it too.
            if sender is not None and self._fetched and not self._drop_reported:
                self._report_dropped(sender, "error")
            raise
        finally:
            self._safe_stop = False
            if sender is not None:
                sender.stop()
                summary.sent, summary.refused = dict(sender.sent), dict(sender.refused)
                summary.refused_counts = dict(sender.refused_counts)
                summary.pending = sender.pending()
                quarantined = outbox.quarantined(sender.platform, sender.deployment_id)
                summary.quarantined = len(quarantined)
                summary.quarantine_reasons = quarantine_reasons(quarantined)
                summary.held_for_others = [
                    h.to_json() for h in held_for_others(outbox, sender.platform,
                                                         sender.deployment_id)]
                if sender.fatal is not None:
                    summary.stop_reason, summary.detail = "error", sender.fatal.detail
            client.close()
            summary.alerts_raised = self._alerts
            summary.outbox_removed = outbox.close_and_remove_if_empty()
            summary.elapsed_s = round(time.monotonic() - started, 3)
        return summary

    # --- the pipeline ----------------------------------------------------------------------

    def _run_pipeline(self, status: DeploymentStatus, outbox: Outbox, sender: Sender,
                      summary: NodeSummary) -> tuple[str, str | None]:
        """Run the engine until a stop; returns why it stopped (reason, detail)."""
        c = self.config
        released = self._patiently(lambda: sender.client.watchlist(status.deployment_id),
                                   "could not fetch the watchlist")
        self._fetched = True
        watchlist, categories = watchlist_from_release(released)
        del released
        self.report({"type": "watchlist", "entries": len(watchlist.subjects),
                     "descriptors": watchlist.image_count,
                     "second_opinion": watchlist.reference_model})
        try:
            source = ClockedSource(c.source, loop=c.loop, max_reconnects=c.max_reconnects)
            if self._make_analyzer is not None:
                analyzer = self._make_analyzer(watchlist.descriptor_model)
            else:
                analyzer = FaceAnalyzer(
                    backend=c.backend, detector=resolve_detector(c.detector),
                    descriptor=descriptor_for_model(watchlist.descriptor_model))
            # The second opinion is the watchlist's (the deployment's decision rule, held
            # by the threshold gate to an audit made with it), never the node's to choose.
            config = c.engine_config(status.threshold,
                                     second_opinion=watchlist.reference_model is not None)
            watcher = Watcher(watchlist, config, analyzer)
        except (RecognitionError, ValueError) as exc:
            _forget(watchlist)
            self._report_dropped(sender, "error")
            raise NodeError(str(exc)) from None
        self.report({"type": "watching", "source": source.name, "camera": c.camera,
                     "threshold": status.threshold})
        self._safe_stop = True  # from now on a signal asks; the next frame (or idle tick) stops
        reason, detail = "source_ended", None
        poller = threading.Thread(target=self._poll, args=(status,), name="openlfr-node-poll",
                                  daemon=True)

        def on_progress(counters: Counters) -> None:
            if not self._threads_started:
                # Started only now: the engine's worker processes are forked by then, and
                # forking is safe only while this process has a single thread.
                self._threads_started = True
                sender.start()
                poller.start()
            if sender.ended is not None and self._stop_reason is None:
                self._request_stop("deployment_ended", sender.ended.detail)
            if sender.fatal is not None and self._stop_reason is None:
                self._request_stop("error", sender.fatal.detail)
            if self._stop_reason is not None:
                self._stop_noticed.set()
                raise _Stop
            self._apply_threshold(watcher)
            self._maybe_batch(watcher, outbox, sender)

        try:
            try:
                for alert in watcher.run(source, on_progress):
                    self._queue_alert(alert, categories, source, outbox, sender)
            except _Stop:
                reason, detail = self._stop_reason or "error", self._stop_detail
            except KeyboardInterrupt:
                reason, detail = self._stop_reason or "interrupted", self._stop_detail
            except RecognitionError as exc:
                reason, detail = "error", str(exc)
            finally:
                self._pipeline_done.set()
                source.close()
            self.report({"type": "stopping", "reason": reason, "detail": detail})
            self._maybe_batch(watcher, outbox, sender, final=True)
            summary.engine = watcher.counters.to_json()
        finally:
            # Drop the watchlist, whatever stopped the engine (an unexpected failure too:
            # ``run`` then tells the platform): overwrite the descriptors in memory; the
            # engine (and the faces its tracker still holds) goes when this returns.
            watcher.index.clear()
            _forget(watchlist)
        if poller.is_alive():
            poller.join(timeout=c.poll_interval_s + c.timeout_s)
        return reason, detail

    def _apply_threshold(self, watcher: Watcher) -> None:
        """Decide with the threshold the platform says now, should an amendment have
        changed it while the deployment runs (the platform's to set, never the node's)."""
        wanted = self._platform_threshold
        previous = watcher.config.threshold
        if wanted is None or wanted == previous:
            return
        watcher.set_threshold(wanted)
        self.report({"type": "threshold_changed", "threshold": wanted, "previous": previous})

    def _finish(self, reason: str, detail: str | None, sender: Sender,
                summary: NodeSummary) -> None:
        """After the pipeline: confirm the drop, empty the outbox, tell the platform."""
        gc.collect()
        summary.watchlist_dropped = True
        self.report({"type": "watchlist_dropped"})
        sender.stop()
        if reason == "interrupted":
            sender.flush(INTERRUPT_FLUSH_S)
        else:  # a signal during the flush gives up on it (what is left waits in the outbox)
            sender.flush(self.config.flush_timeout_s, give_up=self._signalled)
        if self._signalled.is_set():
            reason = "interrupted"
        summary.stop_reason, summary.detail = reason, detail
        self._report_dropped(sender, reason)

    def stop(self) -> None:
        """Ask the run to stop, as SIGTERM does (from any thread): the pipeline stops at its
        next frame, pending items get a short last try, and ``run`` returns "interrupted"."""
        self._signalled.set()
        self._request_stop("interrupted", None)

    def _ask_to_stop(self) -> bool:
        """SIGTERM's (and Ctrl-C's) handler: the first signal while the node can stop at a
        safe point asks it to (True); otherwise (before the pipeline, a second signal, the
        watchdog's interrupt) the caller raises KeyboardInterrupt (False)."""
        if not self._safe_stop or self._signalled.is_set() or self._forcing:
            return False
        self._signalled.set()
        self._request_stop("interrupted", None)
        return True

    def _request_stop(self, reason: str, detail: str | None) -> None:
        if self._stop_reason is None:
            self._stop_reason, self._stop_detail = reason, detail
            self._stop_requested.set()

    def _poll(self, status: DeploymentStatus) -> None:
        """Ask the platform every few seconds whether the deployment may still run; stop
        when it may not, or when its published end passes by this node's clock. Its
        threshold, should an amendment change it, the pipeline applies at its next frame."""
        c = self.config
        client = self._client()
        last_error: str | None = None
        try:
            while not self._pipeline_done.wait(c.poll_interval_s):
                try:
                    current = client.deployment(status.deployment_id)
                    self._platform_threshold = current.threshold
                    if not current.may_run:
                        self._request_stop("deployment_ended", current.reason)
                    last_error = None
                except PlatformUnreachable:
                    pass  # the sender reports the outage; the local clock still counts
                except PlatformRefused as exc:
                    self._request_stop("error", exc.detail)
                except Exception as exc:  # the end-of-window check must go on
                    error = f"{type(exc).__name__}: {exc}"
                    if error != last_error:  # once, not every poll
                        _report_safely(self.report, {"type": "unexpected_error",
                                                     "thread": "poll", "error": error,
                                                     "retry_in_s": c.poll_interval_s})
                    last_error = error
                if datetime.now(UTC) >= status.end_at:
                    self._request_stop("deployment_ended", "the deployment's published end "
                                       f"{status.end_at:%Y-%m-%d %H:%M} UTC has passed")
                if self._stop_requested.is_set():
                    break
            # A stalled source lets the pipeline notice nothing: interrupt it.
            if self._stop_requested.is_set():
                deadline = time.monotonic() + STOP_GRACE_S
                while not (self._stop_noticed.is_set() or self._pipeline_done.is_set()):
                    if time.monotonic() > deadline:
                        if self._in_main_thread:  # else (an actor's thread) it would hit
                            self._forcing = True  # someone else's main thread
                            interrupt_main()
                        break
                    time.sleep(0.1)
        finally:
            client.close()

    # --- alerts and counters -----------------------------------------------------------------

    def _queue_alert(self, alert: Alert, categories: dict[int, str], source: ClockedSource,
                     outbox: Outbox, sender: Sender) -> None:
        entry_id = int(alert.subject)
        payload = {
            "alert_uid": f"a-{uuid.uuid4().hex}",
            "occurred_at": source.frame_time(alert.frame).isoformat(timespec="milliseconds"),
            "camera": self.config.camera,
            "track_id": f"{self.run_id[:8]}-{alert.track}",
            "score": round(min(max(float(alert.score), 0.0), 1.0), 4),
            "entry_id": entry_id,
            "entry_category": categories[entry_id],
            "probe_crop_jpeg_b64": probe_jpeg_b64(alert.probe_crop),
        }
        if alert.second_opinion:  # sent only when true: platforms before it refuse the key
            payload["second_opinion"] = True
        outbox.put(sender.platform, sender.deployment_id, "alert", str(payload["alert_uid"]),
                   payload)
        sender.notify()
        self._alerts += 1
        self.report({"type": "alert", "alert_uid": payload["alert_uid"], "entry_id": entry_id,
                     "category": categories[entry_id], "score": payload["score"],
                     "track": alert.track, "frame": alert.frame,
                     "second_opinion": alert.second_opinion,
                     "occurred_at": payload["occurred_at"], "pending": sender.pending()})

    def _maybe_batch(self, watcher: Watcher, outbox: Outbox, sender: Sender,
                     final: bool = False) -> None:
        """Queue the counts since the last batch, every ``counters_interval_s`` (and at the
        end); a period with nothing counted makes no batch."""
        if not final and time.monotonic() - self._batch_at < self.config.counters_interval_s:
            return
        counters = watcher.counters
        now = {"faces_seen": counters.faces_detected,
               "tracks": max(counters.tracks, watcher.tracker.tracks_started),
               "frames_processed": counters.frames_processed,
               "frames_dropped": counters.frames_dropped,
               "frames_near_behind": counters.frames_near_behind}
        delta = {k: now[k] - self._last_batch[k] for k in now}
        self._batch_at = time.monotonic()
        if not any(delta.values()):
            return
        period_end = datetime.now(UTC)
        payload: dict[str, Any] = {
            "batch_id": f"c-{uuid.uuid4().hex}", **delta,
            "period_start": self._batch_started.isoformat(timespec="milliseconds"),
            "period_end": period_end.isoformat(timespec="milliseconds")}
        outbox.put(sender.platform, sender.deployment_id, "counters", payload["batch_id"],
                   payload)
        sender.notify()
        self._last_batch, self._batch_started = now, period_end
        self.report({"type": "counters", **payload, "pending": sender.pending()})

    def _report_dropped(self, sender: Sender, reason: str) -> None:
        """Tell the platform (its audit log) that the watchlist is gone from this node, and
        how many of the deployment's items its outbox still holds (to send, or refused and
        kept aside)."""
        held = sender.pending() + sender.outbox.count(sender.platform, sender.deployment_id,
                                                      state=QUARANTINED)
        payload = {"run_id": self.run_id,
                   "reason": reason if reason in {"deployment_ended", "source_ended",
                                                  "interrupted"} else "error",
                   "alerts_sent": sender.sent["alert"], "outbox_pending": held}
        self._drop_reported = True
        try:
            sender.client.report_dropped(sender.deployment_id, payload)
        except (PlatformUnreachable, PlatformRefused) as exc:
            self.report({"type": "drop_not_reported", "error": str(exc)})
        else:
            self.report({"type": "drop_reported", **payload})


def quarantine_reasons(items: list[QuarantinedItem]) -> list[dict[str, Any]]:
    """Quarantined items by status code and reason, the most frequent first."""
    counted = Counter((i.status_code, i.reason) for i in items)
    return [{"status_code": code, "reason": reason, "items": n}
            for (code, reason), n in counted.most_common()]


def held_for_others(outbox: Outbox, platform: str, deployment_id: int) -> list[HeldItems]:
    """What the outbox holds for any deployment other than this one (or on another
    platform): a run sends only its own deployment's items."""
    return [h for h in outbox.held()
            if (h.platform, h.deployment_id) != (platform, deployment_id)]


def _report_safely(report: Callable[[Event], None], event: Event) -> None:
    """Report from a thread that must not die of the report itself (a closed console)."""
    with contextlib.suppress(Exception):  # nothing left to tell it to
        report(event)


def watchlist_from_release(released: dict[str, Any]) -> tuple[Watchlist, dict[int, str]]:
    """The engine's watchlist from the platform's release: one subject per entry, named by
    the entry id (the node never learns subject references), and each entry's category."""
    reference_model = released.get("reference_model")
    if reference_model is not None and reference_model != reference_model_id():
        raise NodeError(f"the watchlist decides with a second opinion from {reference_model}, "
                        f"but this node's second opinion is {reference_model_id()}; install "
                        "the models the platform enrolled with (openlfr models install)")
    subjects = []
    for e in released["entries"]:
        descriptors = e["descriptors"]
        references = e.get("references") if reference_model is not None else None
        if reference_model is not None and (references is None
                                            or len(references) != len(descriptors)):
            raise NodeError(f"entry {e['entry_id']} of a watchlist that decides with a second "
                            "opinion came without one reference per descriptor")
        subjects.append(Subject(ref=str(int(e["entry_id"])), images=[
            EnrolledImage(name=f"entry-{int(e['entry_id'])}-{n}", sha256="",
                          descriptor=np.asarray(d, dtype=np.float32),
                          reference=(None if references is None
                                     else np.asarray(references[n - 1], dtype=np.float32)))
            for n, d in enumerate(descriptors, start=1)]))
    categories = {int(e["entry_id"]): str(e["category"]) for e in released["entries"]}
    watchlist = Watchlist(descriptor_model=str(released["descriptor_model"]),
                          subjects=[s for s in subjects if s.images],
                          reference_model=None if reference_model is None
                          else str(reference_model))
    if not watchlist.subjects:
        raise NodeError("the platform released an empty watchlist; nothing to look for")
    return watchlist, categories


def _forget(watchlist: Watchlist) -> None:
    """Overwrite the descriptors the node built, then drop them."""
    for subject in watchlist.subjects:
        for image in subject.images:
            image.descriptor.fill(0.0)
            if image.reference is not None:
                image.reference.fill(0.0)
        subject.images.clear()
    watchlist.subjects.clear()


def probe_jpeg_b64(chip: RGBImage) -> str:
    """The probe crop as a base64 JPEG (what the platform stores, encrypted)."""
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(chip[:, :, ::-1]),
                               [cv2.IMWRITE_JPEG_QUALITY, PROBE_JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit image
        raise NodeError("could not encode a probe crop as JPEG")
    return base64.b64encode(encoded.tobytes()).decode("ascii")

