"""`openlfr fleet run`: many cameras on a Ray cluster, each one node run.
Thin: parse the options and the cameras file, run ``openlfr.fleet``, print what it reports."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from openlfr.cli.engine_commands import (
    BACKEND_OPTION,
    DETECT_MAX_PX_OPTION,
    FULL_DETECTION_EVERY_OPTION,
    FULL_DETECTION_EVERY_SMALL_OPTION,
    MIN_FACE_PX_OPTION,
    SHED_WHEN_BEHIND_OPTION,
)
from openlfr.cli.errors import fail
from openlfr.cli.node_command import EXIT_INTERRUPTED, event_printer, event_text
from openlfr.node import NodeConfig
from openlfr.node.runner import default_outbox_dir

fleet_app = typer.Typer(help="Run many cameras on a Ray cluster.", no_args_is_help=True)


def fleet_event_text(event: dict[str, Any]) -> str | None:
    kind = event["type"]
    if kind == "fleet_started":
        cameras = ", ".join(f"{name} (pid {pid})" for name, pid in event["cameras"].items())
        return (f"fleet: {len(event['cameras'])} cameras: {cameras}; "
                f"{event['describers']} describers")
    if kind == "camera_restarted":
        return (f"warning: {event['camera']}: its actor died; Ray restarted it, the run starts "
                f"again and resends its outbox (restart {event['restarts']})")
    if kind == "camera_failed":
        return f"warning: {event['camera']}: gave up: {event['error']}"
    if kind == "camera_stopped":
        quarantined = event.get("quarantined", 0)
        kept = (f", {quarantined} refused by the platform and kept aside (openlfr node "
                "outbox)" if quarantined else "")
        return (f"[{event['camera']}] stopped ({event['stop_reason'].replace('_', ' ')}); "
                f"alerts raised {event['alerts_raised']}, sent {event['sent'].get('alert', 0)}; "
                f"{event['pending']} pending{kept}")
    line = event_text(event)
    if line is None:
        return None
    if line.startswith("warning: "):
        return f"warning: [{event['camera']}] {line.removeprefix('warning: ')}"
    return f"[{event['camera']}] {line}"


@fleet_app.command("run")
def fleet_run(
    platform: Annotated[str, typer.Option(
        "--platform", help="The platform's address, e.g. https://lfr.example.org.")],
    cameras_file: Annotated[Path, typer.Option(
        "--cameras", help="The cameras file (TOML): one camera table per camera with "
        "name, source, deployment and optionally api_key_env and loop.")],
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="OPENLFR_NODE_API_KEY",
        help="The node API key of the cameras without api_key_env (keys belong to a "
        "deployment); or set OPENLFR_NODE_API_KEY.")] = None,
    address: Annotated[str | None, typer.Option(
        "--address", help="Join a Ray cluster: 'auto' (the one `ray start` runs on this "
        "machine) or HOST:PORT of its head. Default: start one on this machine.")] = None,
    describers: Annotated[int, typer.Option(
        min=1, help="Describer actors (one core each), shared by all cameras.")] = 1,
    workers: Annotated[int, typer.Option(
        min=1, help="Detection threads per camera.")] = 1,
    outbox: Annotated[Path | None, typer.Option(
        "--outbox", help="Folder for the cameras' outboxes (one sub-folder each, on the "
        "machine the camera runs on). Default: the user data folder's openlfr/node-outbox.")
    ] = None,
    max_restarts: Annotated[int, typer.Option(
        min=0, help="Times a camera's run is started again after its actor died.")] = 3,
    flush_timeout_s: Annotated[float | None, typer.Option(
        min=0.0, help="At the end, give up emptying an outbox after this many seconds "
        "(pending items stay for the next start). Default: keep trying; Ctrl-C gives up.")
    ] = None,
    min_face_px: int = MIN_FACE_PX_OPTION,
    detect_max_px: int = DETECT_MAX_PX_OPTION,
    full_detection_every: int = FULL_DETECTION_EVERY_OPTION,
    full_detection_every_small: int = FULL_DETECTION_EVERY_SMALL_OPTION,
    shed_when_behind: int = SHED_WHEN_BEHIND_OPTION,
    backend: str = BACKEND_OPTION,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per line: each event (with its camera), then a "
        "summary.")] = False,
) -> None:
    """Run every camera of the cameras file, each as `openlfr node run` would, on a Ray
    cluster: one actor per camera (decode, detect, track), describer actors shared by all
    cameras (batched across streams).

    Every camera keeps the node's guarantees: it runs only while its deployment is active,
    holds the watchlist in memory only, and keeps alerts in its outbox until the platform
    acknowledges them. When an actor's process dies, Ray restarts it and the camera's run
    starts again, sending what its outbox holds. Ctrl-C or SIGTERM stops every camera
    (exit 130); a second one stops at once.
    """
    from openlfr.fleet import (
        CamerasError,
        FleetError,
        FleetOptions,
        load_cameras,
        run_fleet,
        start_ray,
    )

    try:
        cameras = load_cameras(cameras_file, api_key)
    except CamerasError as exc:
        fail(exc)
    node = NodeConfig(platform_url=platform, api_key="", deployment="", source="",
                      outbox_dir=outbox or default_outbox_dir(), workers=workers,
                      min_face_px=min_face_px, detect_max_px=detect_max_px,
                      full_detection_every=full_detection_every,
                      full_detection_every_small=full_detection_every_small,
                      shed_when_behind=shed_when_behind,
                      backend=backend, flush_timeout_s=flush_timeout_s)
    options = FleetOptions(node, describers=describers, max_restarts=max_restarts)
    report = event_printer(as_json, fleet_event_text)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        report({"type": "stopping_all", "camera": "fleet"})

    try:
        start_ray(address)
    except FleetError as exc:
        fail(exc)
    # After Ray's start: its driver installs a SIGTERM handler of its own (which aborts).
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = run_fleet(cameras, options, report, stop)
    except FleetError as exc:
        fail(exc)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if as_json:
        print(json.dumps(summary.to_json(), default=str), flush=True)
    else:
        sizes = sum(k * v for k, v in summary.batch_sizes.items())
        batches = sum(summary.batch_sizes.values())
        print(f"fleet: {len(summary.cameras)} cameras stopped after {summary.elapsed_s:.1f} s; "
              f"{sizes} faces described in {batches} batches"
              + (f" (mean {sizes / batches:.1f} a batch)" if batches else ""), flush=True)
    if stop.is_set() or summary.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if summary.failed:
        fail("cameras that did not finish cleanly: "
             + ", ".join(c.camera for c in summary.failed) + " (see above)")


def register(app: typer.Typer) -> None:
    app.add_typer(fleet_app, name="fleet")
