"""The fleet: many cameras, each one node run, on a Ray cluster.

Each camera runs in its own actor (``CameraActor``): the node's own runner, with its
outbox, its poll of the deployment and its pipeline (decode, detect, track, align), so
every guarantee of ``openlfr node run`` holds per camera. Only the descriptor network is
shared: the pipeline's describer is ``SharedDescriber``, which sends the chips to the
fleet's describer actors, which describe what all cameras sent in batches.

The driver (``run_fleet``) starts the actors, relays their events, and when an actor or
its worker process dies (Ray restarts the actor) starts the camera's run again: the run
resends what its outbox holds, so an alert queued before the crash is delivered once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from openlfr.fleet.cameras import Camera
from openlfr.fleet.describers import DescriberActor, DescriberInfo, SharedDescriber
from openlfr.node import NodeConfig, NodeError, NodeRunner, OutboxError
from openlfr.node.runner import Event
from openlfr.recognition import FaceAnalyzer
from openlfr.recognition.backends import (
    DEFAULT_DESCRIPTOR,
    descriptor_for_model,
    load_backends,
    resolve_detector,
)

#: Ray settings for a cluster the fleet starts itself: no spilling of objects to disk
#: (the fleet keeps nothing there anyway; see describers), no dashboard.
LOCAL_SYSTEM_CONFIG = {"automatic_object_spilling_enabled": False}
#: How often the driver collects the cameras' events.
EVENT_POLL_S = 0.5
#: How long Ray may take to restart a camera's actor (a busy machine takes a while to
#: start a worker) before the fleet gives the camera up.
RESTARTING_WAIT_S = 120.0
#: Events an actor keeps for the driver (older ones go if the driver falls behind).
EVENT_BUFFER = 10_000


class FleetError(Exception):
    """The fleet cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class FleetOptions:
    """What every camera shares: ``node`` is the node configuration without camera,
    source, deployment and key (each camera's fill them)."""

    node: NodeConfig
    describers: int = 1
    """Describer actors (one core each)."""
    descriptor: str = DEFAULT_DESCRIPTOR
    """The descriptor network the describers run: the one the deployments' watchlists were
    built with (a camera whose watchlist needs another refuses to start)."""
    max_restarts: int = 3
    """Runs of one camera restarted after its actor died, before the fleet gives it up."""


@dataclass
class CameraResult:
    camera: str
    summary: dict[str, Any] | None = None
    error: str | None = None
    restarts: int = 0


@dataclass
class FleetSummary:
    cameras: list[CameraResult] = field(default_factory=list)
    batch_sizes: dict[int, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def interrupted(self) -> bool:
        return any(c.summary and c.summary["stop_reason"] == "interrupted"
                   for c in self.cameras)

    @property
    def failed(self) -> list[CameraResult]:
        """Cameras whose run did not end clean: an error, no summary, a refusal, items
        still to send, or items the platform refused and the outbox set aside
        (``quarantined``: kept with the reason, for ``openlfr node outbox``)."""
        return [c for c in self.cameras if c.error or not c.summary
                or c.summary["stop_reason"] in ("refused", "error") or c.summary["pending"]
                or c.summary.get("quarantined")]

    def to_json(self) -> Event:
        return {"type": "fleet_summary", "elapsed_s": round(self.elapsed_s, 3),
                "batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())},
                "cameras": [c.__dict__ for c in self.cameras]}


class CameraActor:
    """One camera: one node run at a time, in an actor (threaded: ``events`` and ``stop``
    answer while ``run`` runs)."""

    def __init__(self, config: NodeConfig, describers: list[str], info: DescriberInfo) -> None:
        """``describers``: the names of the fleet's describer actors (looked up here, so
        that a restarted actor finds them again)."""
        import ray

        self._config, self._info = config, info
        self._describers = [ray.get_actor(name) for name in describers]
        self._events: deque[Event] = deque(maxlen=EVENT_BUFFER)
        self._runner: NodeRunner | None = None
        self._stopped = False

    def _analyzer(self, descriptor_model: str) -> FaceAnalyzer:
        if descriptor_model != self._info.model_id:
            raise NodeError(f"the watchlist was built with {descriptor_model}; the fleet's "
                            f"describers run {self._info.model_id}")
        c = self._config
        shared = SharedDescriber(self._describers, self._info)
        return FaceAnalyzer(load_backends(c.backend, 1, resolve_detector(c.detector),
                                          descriptor_for_model(descriptor_model), shared))

    def run(self) -> dict[str, Any]:
        """Run the camera until its deployment ends, its source ends or it is stopped;
        the node's summary."""
        runner = NodeRunner(self._config, self._events.append, self._analyzer)
        self._runner = runner
        if self._stopped:
            runner.stop()
        try:
            summary = runner.run()
        except (NodeError, OutboxError) as exc:
            raise FleetError(str(exc)) from None
        return summary.to_json()

    def events(self) -> list[Event]:
        """The events since the last call."""
        taken = []
        while self._events:
            taken.append(self._events.popleft())
        return taken

    def stop(self) -> None:
        self._stopped = True
        if self._runner is not None:
            self._runner.stop()

    def pid(self) -> int:
        import os

        return os.getpid()


def camera_config(options: FleetOptions, camera: Camera) -> NodeConfig:
    """The node configuration of one camera: its own outbox folder under the fleet's, and
    its own detection settings where the cameras file gives them."""
    base = options.node
    return replace(base, deployment=camera.deployment, source=camera.source,
                   api_key=camera.api_key, camera=camera.name, loop=camera.loop,
                   outbox_dir=Path(base.outbox_dir) / camera.name,
                   **cast(dict[str, Any], dict(camera.detection)))


def start_ray(address: str | None, temp_dir: Path | None = None,
              num_cpus: int | None = None) -> None:
    """Join the cluster at ``address`` ("auto": the one started by ``ray start`` on this
    machine), or start a local one (no address)."""
    import ray

    if ray.is_initialized():
        return
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": "warning"}
    if address:
        options["address"] = address
    else:
        options["_system_config"] = LOCAL_SYSTEM_CONFIG
        if num_cpus is not None:
            options["num_cpus"] = num_cpus
        if temp_dir is not None:
            options["_temp_dir"] = str(temp_dir)
    from ray.exceptions import AuthenticationError

    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise FleetError(f"cannot join the Ray cluster at {address}: {exc}; start it with "
                         "`ray start --head` (or check the address); a cluster with token "
                         "authentication needs RAY_AUTH_MODE=token and its token here too "
                         "(~/.ray/auth_token or RAY_AUTH_TOKEN)") from None
    except AuthenticationError:
        raise FleetError(f"cannot join the Ray cluster at {address}: RAY_AUTH_MODE=token is "
                         "set but this machine has no token; copy the cluster's token from "
                         "its head (~/.ray/auth_token there) to ~/.ray/auth_token here, or "
                         "set RAY_AUTH_TOKEN") from None


def run_fleet(cameras: list[Camera], options: FleetOptions,
              report: Callable[[Event], None],
              stop: threading.Event | None = None) -> FleetSummary:
    """Run every camera until each has stopped. Ray must be started (``start_ray``).
    Setting ``stop`` asks every camera to stop (as Ctrl-C does)."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    started = time.monotonic()
    stop = stop or threading.Event()
    node = options.node
    # Ray restarts a dead describer and retries the calls it was answering.
    describer_cls: Any = ray.remote(DescriberActor)
    run_id = uuid.uuid4().hex[:12]
    names = [f"openlfr-describer-{run_id}-{n}" for n in range(1, options.describers + 1)]
    describers = [describer_cls.options(name=name, num_cpus=1, max_restarts=-1,
                                        max_task_retries=3, scheduling_strategy="SPREAD")
                  .remote(node.backend, options.descriptor) for name in names]
    try:
        info = ray.get(describers[0].info.remote())
    except RayTaskError as exc:
        raise FleetError(f"the describers could not load their network: {exc.cause}") from None
    # A camera's run is not retried by Ray: the loop below starts it again, knowingly.
    # Cameras are spread over the cluster's machines (each decodes and detects its own).
    camera_cls: Any = ray.remote(CameraActor)
    actors = {c.name: camera_cls.options(num_cpus=0, max_restarts=-1, max_concurrency=3,
                                         scheduling_strategy="SPREAD")
              .remote(camera_config(options, c), names, info) for c in cameras}
    results = {c.name: CameraResult(c.name) for c in cameras}
    running = {actors[name].run.remote(): name for name in actors}
    pids = ray.get([actors[name].pid.remote() for name in actors])
    report({"type": "fleet_started", "describers": len(describers),
            "cameras": dict(zip(actors, pids, strict=True))})
    stop_sent = False
    # A camera whose actor died is asked for its pid until Ray has restarted it, and only
    # then to run again: a call made while it restarts fails (ActorUnavailableError), and
    # is neither another death nor a run. The pending pid calls (-> camera), when each
    # camera was first asked, and when each camera still restarting is asked again (the
    # loop goes on relaying the other cameras' events meanwhile).
    probing: dict[Any, str] = {}
    restarting_since: dict[str, float] = {}
    ask_again_at: dict[str, float] = {}
    while running or probing or ask_again_at:
        now = time.monotonic()
        for name in [n for n, at in ask_again_at.items() if at <= now]:
            del ask_again_at[name]
            probing[actors[name].pid.remote()] = name
        # every camera left to ask again is due later than now: a positive wait
        wait_s = min([EVENT_POLL_S, *(at - now for at in ask_again_at.values())])
        if running or probing:
            done, _ = ray.wait([*running, *probing], num_returns=1, timeout=wait_s)
        else:  # only cameras waiting to be asked again: nothing to wait on but the clock
            done = []
            time.sleep(wait_s)
        _relay_events(actors, running, report)
        if stop.is_set() and not stop_sent:
            stop_sent = True
            for name in set(running.values()):
                actors[name].stop.remote()
        for ref in done:
            if ref in probing:
                name = probing.pop(ref)
                result = results[name]
                try:
                    ray.get(ref)
                    late = ""
                except RayActorError as exc:  # still restarting
                    if not stop_sent and (time.monotonic() - restarting_since[name]
                                          <= RESTARTING_WAIT_S):
                        ask_again_at[name] = time.monotonic() + EVENT_POLL_S
                        continue
                    late = f"its actor was still restarting after {RESTARTING_WAIT_S:g} s: {exc}"
                if stop_sent or late:
                    result.error = "stopped while its actor was restarting" if stop_sent else late
                    report({"type": "camera_failed", "camera": name, "error": result.error})
                else:
                    running[actors[name].run.remote()] = name  # up again: the run resumes
                continue
            name = running.pop(ref)
            result = results[name]
            try:
                result.summary = ray.get(ref)
            except RayActorError as exc:
                if result.restarts >= options.max_restarts or stop_sent:
                    result.error = f"its actor died {result.restarts + 1} times: {exc}"
                    report({"type": "camera_failed", "camera": name, "error": result.error})
                    continue
                result.restarts += 1
                report({"type": "camera_restarted", "camera": name,
                        "restarts": result.restarts})
                restarting_since[name] = time.monotonic()
                probing[actors[name].pid.remote()] = name  # Ray restarts the actor
            except RayTaskError as exc:
                result.error = str(exc.cause) if exc.cause else str(exc)
                report({"type": "camera_failed", "camera": name, "error": result.error})
            else:
                report({"type": "camera_stopped", "camera": name, **result.summary})
    summary = FleetSummary(cameras=list(results.values()))
    for sizes in ray.get([d.stats.remote() for d in describers]):
        for size, count in sizes.items():
            summary.batch_sizes[size] = summary.batch_sizes.get(size, 0) + count
    for actor in [*actors.values(), *describers]:
        ray.kill(actor, no_restart=True)
    summary.elapsed_s = time.monotonic() - started
    return summary


def _relay_events(actors: dict[str, Any], running: dict[Any, str],
                  report: Callable[[Event], None]) -> None:
    import ray
    from ray.exceptions import RayActorError

    names = sorted(set(running.values()))
    refs = [actors[name].events.remote() for name in names]
    for name, ref in zip(names, refs, strict=True):
        try:
            events = ray.get(ref, timeout=10)
        except (RayActorError, ray.exceptions.GetTimeoutError):
            continue  # a dead actor's events died with it; its outbox did not
        for event in events:
            report({"camera": name, **event})
