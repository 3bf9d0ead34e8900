"""`openlfr node run`: an engine node for one deployment, under the platform's governance.
Thin: parse the options, run ``openlfr.node.NodeRunner``, print what it reports."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
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
from openlfr.node import NodeConfig, NodeError, NodeRunner, NodeSummary, Outbox, OutboxError
from openlfr.node.outbox import OUTBOX_FILE_NAME
from openlfr.node.runner import Event, default_outbox_dir, quarantine_reasons

node_app = typer.Typer(help="Run an engine node for a deployment.", no_args_is_help=True)

EXIT_INTERRUPTED = 130


def event_text(event: Event) -> str | None:
    """One event as a line for people (None: not worth a line)."""
    kind = event["type"]
    if kind == "status":
        if not event["may_run"]:
            return None  # the refusal is printed as the error line
        return (f"node: deployment {event['deployment']} is active until "
                f"{event['end_at'][:16].replace('T', ' ')} UTC; threshold {event['threshold']:.2f}")
    if kind == "backlog":
        parts = []
        if event["pending"]:
            parts.append(f"{event['pending']} items from an earlier run wait in the outbox; "
                         "sending")
        if event.get("quarantined"):
            parts.append(
                f"{event['quarantined']} items of {event['deployment']} the platform refused "
                f"for good are kept aside in the outbox "
                f"({reasons_text(event['quarantine_reasons'])}; openlfr node outbox lists "
                "them, --requeue, --discard)")
        parts += [held_text(h) for h in event.get("held_for_others", [])]
        if not parts:
            return None
        # One line (a fleet prefixes each camera's); a warning when more than a backlog.
        worrying = event.get("quarantined") or event.get("held_for_others")
        return ("warning: " if worrying else "node: ") + "; ".join(parts)
    if kind == "watchlist":
        second = (f"; decides with a second opinion from {event['second_opinion']}"
                  if event.get("second_opinion") else "")
        return (f"node: watchlist received: {event['entries']} entries, "
                f"{event['descriptors']} descriptors (kept in memory only){second}")
    if kind == "watching":
        return f"node: watching {event['source']} as {event['camera']}"
    if kind == "threshold_changed":
        return (f"node: the platform changed the deployment's threshold from "
                f"{event['previous']:.2f} to {event['threshold']:.2f}; deciding with it now")
    if kind == "alert":
        return (f"ALERT  {event['occurred_at'][11:23]}  entry {event['entry_id']} "
                f"({event['category']})  score {event['score']:.3f}"
                f"{' (second opinion)' if event.get('second_opinion') else ''}  "
                f"track {event['track']}  "
                f"queued (pending {event['pending']})")
    if kind == "sent":
        return f"sent {event['kind']} {event['uid']} (pending {event['pending']})"
    if kind == "counters":
        return (f"counters: {event['faces_seen']} faces, {event['tracks']} tracks, "
                f"{frames_text(event)} queued")
    if kind == "unreachable":
        pending = "" if event["pending"] is None else f"; {event['pending']} pending"
        return (f"platform unreachable ({event['error']}); retrying in "
                f"{event['retry_in_s']:.1f} s{pending}")
    if kind == "refused":
        return (f"warning: the platform refused {event['kind']} {event['uid']} for good "
                f"({event.get('status_code', 409)}: {event['detail']}); kept aside in the "
                "outbox (openlfr node outbox)")
    if kind == "requeued":
        return (f"node: {event['items']} items the platform refused with 409 before are sent "
                "again (the deployment is active)")
    if kind == "unexpected_error":
        return (f"warning: unexpected error in the node's {event['thread']} thread "
                f"({event['error']}); trying again in {event['retry_in_s']:.1f} s")
    if kind == "stopping":
        detail = f": {event['detail']}" if event["detail"] else ""
        return f"node: stopping ({event['reason'].replace('_', ' ')}{detail})"
    if kind == "watchlist_dropped":
        return "node: watchlist dropped from memory"
    if kind == "drop_reported":
        return "node: the platform recorded that the watchlist was dropped"
    if kind == "drop_not_reported":
        return f"warning: could not tell the platform the watchlist was dropped ({event['error']})"
    return None


def event_printer(as_json: bool,
                  text: Callable[[Event], str | None]) -> Callable[[Event], None]:
    """Print each event as a JSON line, or as ``text`` gives it for people (warnings on
    stderr). Events come from several threads: one whole line per write, never
    interleaved."""
    printing = threading.Lock()

    def report(event: Event) -> None:
        line = json.dumps(event, default=str) if as_json else text(event)
        if line is None:
            return
        out = sys.stderr if line.startswith("warning:") else sys.stdout
        with printing:
            out.write(line + "\n")
            out.flush()

    return report


def frames_text(counts: dict[str, Any]) -> str:
    """Frames looked at, dropped and (when any) searched near the tracks to keep up."""
    shed = counts.get("frames_near_behind", 0)
    return (f"{counts['frames_processed']} frames ({counts['frames_dropped']} dropped"
            + (f", {shed} searched near the tracks to keep up" if shed else "") + ")")


def reasons_text(reasons: list[dict[str, Any]], most: int = 3) -> str:
    """Why items were quarantined: "422: why (2 items); 409: why", the most frequent
    first."""
    parts = [f"{r['status_code']}: {r['reason']}"
             + (f" ({r['items']} items)" if r["items"] > 1 else "") for r in reasons[:most]]
    if len(reasons) > most:
        parts.append(f"{len(reasons) - most} more reasons")
    return "; ".join(parts)


def held_text(held: dict[str, Any]) -> str:
    """One other deployment's items in the outbox, and until when they can be delivered."""
    name = (f"deployment {held['reference']} (id {held['deployment_id']})" if held["reference"]
            else f"deployment id {held['deployment_id']}")
    counts = " and ".join(
        part for part in (f"{held['pending']} items to send" if held["pending"] else "",
                          f"{held['quarantined']} quarantined" if held["quarantined"] else "")
        if part)
    if held["late_delivery_until"]:
        when = (f"; the platform takes them until {_utc(held['late_delivery_until'])} UTC "
                "(late delivery)")
    elif held["end_at"]:
        when = (f"; the deployment ends {_utc(held['end_at'])} UTC, and late delivery closes "
                "the platform's late-delivery time after its end (24 h by default)")
    else:
        when = "; its late-delivery deadline is not known"
    return (f"the outbox holds {counts} for {name} on {held['platform']}{when}; only "
            "openlfr node run for that deployment, with its key, sends them")


def _utc(moment: str) -> str:
    return moment[:16].replace("T", " ")


def summary_line(s: NodeSummary) -> str:
    engine = ""
    if s.engine:
        e = s.engine
        engine = f"; {frames_text(e)}, {e['faces_detected']} faces, {e['tracks']} tracks"
    refused = sum(s.refused.values())
    held: list[str] = []
    if s.pending or not (s.outbox_removed or s.quarantined or s.held_for_others):
        held.append(f"{s.pending} pending in the outbox (sent at the next start)")
    if s.quarantined:
        held.append(f"{s.quarantined} refused by the platform and kept aside in the outbox "
                    f"({reasons_text(s.quarantine_reasons, most=1)}; openlfr node outbox)")
    if s.held_for_others:
        held.append(f"{sum(h['pending'] + h['quarantined'] for h in s.held_for_others)} items "
                    f"held for {len(s.held_for_others)} other deployment(s) (not sent by this "
                    "run; see the warnings)")
    outbox = "outbox empty (file removed)" if s.outbox_removed else "; ".join(held)
    return (f"node: {s.deployment}: stopped ({s.stop_reason.replace('_', ' ')}) after "
            f"{s.elapsed_s:.1f} s; alerts raised {s.alerts_raised}, sent "
            f"{s.sent.get('alert', 0)}; counter batches sent {s.sent.get('counters', 0)}"
            + (f"; refused by the platform {refused}" if refused else "") + engine
            + ("; watchlist dropped" if s.watchlist_dropped else "") + f"; {outbox}")


@node_app.command("run")
def node_run(
    platform: Annotated[str, typer.Option(
        "--platform", help="The platform's address, e.g. https://lfr.example.org.")],
    api_key: Annotated[str, typer.Option(
        "--api-key", envvar="OPENLFR_NODE_API_KEY",
        help="The node's API key (an authoriser issues it for the deployment; the "
             "operator who confirms it is shown it); or set OPENLFR_NODE_API_KEY.")],
    deployment: Annotated[str, typer.Option(
        "--deployment", help="The deployment's reference (LFR-2026-0007) or numeric id.")],
    source: Annotated[str, typer.Option(
        "--source", help="Video file, folder of images, stream URL (rtsp://...) or webcam "
        "index (0, 1, ...).")],
    camera: Annotated[str, typer.Option(
        help="This camera's name, as alerts show it.")] = "camera-1",
    outbox: Annotated[Path | None, typer.Option(
        "--outbox", help="Folder for the outbox (alerts and counts until the platform "
        "acknowledges them). Default: the user data folder's openlfr/node-outbox.")] = None,
    workers: Annotated[int, typer.Option(
        min=0, help="Worker processes for detection and description.")] = 2,
    flush_interval_s: Annotated[float, typer.Option(
        min=0.5, help="Seconds between counter batches sent to the platform.")] = 10.0,
    poll_interval_s: Annotated[float, typer.Option(
        min=0.2, help="Seconds between checks that the deployment is still active.")] = 2.0,
    flush_timeout_s: Annotated[float | None, typer.Option(
        min=0.0, help="At the end, give up emptying the outbox after this many seconds "
        "(pending items stay for the next start). Default: keep trying; Ctrl-C gives up.")
    ] = None,
    timeout_s: Annotated[float, typer.Option(
        min=0.5, help="Seconds to wait for one answer from the platform.")] = 10.0,
    connect_timeout_s: Annotated[float, typer.Option(
        min=0.0, help="At start, seconds to keep trying while the platform does not answer "
        "or answers 5xx (for the deployment's status, then for its watchlist).")] = 60.0,
    backoff_max_s: Annotated[float, typer.Option(
        min=0.5, help="Longest wait between retries while the platform is unreachable "
        "(from 0.5 s, doubling).")] = 30.0,
    loop: Annotated[bool, typer.Option(
        "--loop", help="Play a video file or folder again from the start when it ends, "
        "until the deployment ends (demos and tests).")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per line: each event, then a summary.")] = False,
    min_face_px: int = MIN_FACE_PX_OPTION,
    detect_max_px: int = DETECT_MAX_PX_OPTION,
    full_detection_every: int = FULL_DETECTION_EVERY_OPTION,
    full_detection_every_small: int = FULL_DETECTION_EVERY_SMALL_OPTION,
    shed_when_behind: int = SHED_WHEN_BEHIND_OPTION,
    max_reconnects: Annotated[int, typer.Option(
        min=0, help="Live sources: reconnect attempts in a row before giving up.")] = 20,
    backend: str = BACKEND_OPTION,
    detector: Annotated[str, typer.Option(
        help="Face detector: auto (ultralight, the default small CNN), ultralight, hog "
        "or cnn.")] = "auto",
) -> None:
    """Run the engine for an active deployment and send its alerts and counts to the
    platform.

    Refuses (error, exit 1) unless the platform says the deployment is active. The
    watchlist is held in memory only. Alerts and counts wait in the outbox until the
    platform acknowledges them; when the deployment ends (completed, or its end time
    passes) the node stops, drops the watchlist, empties the outbox and exits 0. Ctrl-C or
    SIGTERM stops too (exit 130; a second one at once): pending items are sent at the next
    start.
    """
    config = NodeConfig(
        platform_url=platform, api_key=api_key, deployment=deployment, source=source,
        camera=camera, outbox_dir=outbox or default_outbox_dir(), workers=workers,
        min_face_px=min_face_px, detect_max_px=detect_max_px,
        full_detection_every=full_detection_every,
        full_detection_every_small=full_detection_every_small,
        shed_when_behind=shed_when_behind, backend=backend,
        detector=detector, max_reconnects=max_reconnects, loop=loop,
        counters_interval_s=flush_interval_s, poll_interval_s=poll_interval_s,
        timeout_s=timeout_s, backoff_max_s=backoff_max_s, flush_timeout_s=flush_timeout_s,
        connect_timeout_s=connect_timeout_s)

    report = event_printer(as_json, event_text)
    try:
        summary = NodeRunner(config, report).run()
    except (NodeError, OutboxError) as exc:
        fail(exc)
    if as_json:
        print(json.dumps(summary.to_json(), default=str), flush=True)
    else:
        print(summary_line(summary), flush=True)
    _exit(summary)


def _exit(summary: NodeSummary) -> None:
    if summary.stop_reason == "interrupted":
        raise typer.Exit(EXIT_INTERRUPTED)
    if summary.stop_reason in ("refused", "error"):
        fail(summary.detail or "the node stopped on an error")
    if summary.pending:
        fail(f"{summary.pending} items could not be delivered and wait in the outbox; "
             "run the node again to send them")
    if summary.quarantined:
        fail(f"{summary.quarantined} items of {summary.deployment} were refused by the "
             f"platform and are kept aside in the outbox "
             f"({reasons_text(summary.quarantine_reasons)}); openlfr node outbox lists them "
             "(--requeue sends them again at the next start, --discard deletes them)")


@node_app.command("outbox")
def node_outbox(
    outbox: Annotated[Path | None, typer.Option(
        "--outbox", help="The node's outbox folder. Default: the user data folder's "
        "openlfr/node-outbox.")] = None,
    deployment_id: Annotated[int | None, typer.Option(
        "--deployment-id", help="Only this deployment's items (its numeric id).")] = None,
    requeue: Annotated[bool, typer.Option(
        "--requeue", help="Put the quarantined items back in line: the next node run for "
        "their deployment sends them again.")] = False,
    discard: Annotated[bool, typer.Option(
        "--discard", help="Delete the quarantined items (their bytes overwritten), once "
        "you have read why the platform refused them.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """List what the node's outbox holds: items waiting to be sent, per deployment, and
    items the platform refused for good (quarantined) with its reasons. Opens no payload,
    so needs no API key."""
    if requeue and discard:
        fail("choose --requeue or --discard, not both")
    folder = outbox or default_outbox_dir()
    path = folder / OUTBOX_FILE_NAME
    if not path.exists():
        print(json.dumps({"type": "outbox", "path": str(path), "deployments": [],
                          "quarantined": []}) if as_json else f"outbox: {path}: none (empty)")
        return
    try:
        box = Outbox(path, secret=None)
    except OutboxError as exc:
        fail(exc)
    changed = 0
    if requeue:
        changed = box.requeue(deployment_id=deployment_id)
    elif discard:
        changed = box.discard_quarantined(deployment_id=deployment_id)
    held = [h for h in box.held() if deployment_id in (None, h.deployment_id)]
    quarantined = box.quarantined(deployment_id=deployment_id)
    removed = box.close_and_remove_if_empty()
    if as_json:
        print(json.dumps({"type": "outbox", "path": str(path), "removed": removed,
                          "requeued" if requeue else "discarded": changed,
                          "deployments": [h.to_json() for h in held],
                          "quarantined": [q.__dict__ for q in quarantined]}, default=str))
        return
    if requeue:
        print(f"outbox: {changed} quarantined items put back in line; the next node run for "
              "their deployment sends them")
    elif discard:
        print(f"outbox: {changed} quarantined items discarded")
    if removed:
        print(f"outbox: {path}: empty (file removed)")
        return
    print(f"outbox: {path}")
    for h in held:
        print(f"  {held_text(h.to_json())}")
        mine = [q for q in quarantined if (q.platform, q.deployment_id)
                == (h.platform, h.deployment_id)]
        if mine:
            print(f"    quarantined: {reasons_text(quarantine_reasons(mine), most=10)}")
        for q in mine[:20]:
            print(f"    {q.kind} {q.uid} (queued {_utc(q.created_at)}, refused "
                  f"{_utc(q.refused_at)} UTC with {q.status_code}): {q.reason}")
        if len(mine) > 20:
            print(f"    ... and {len(mine) - 20} more (--json lists them all)")


def register(app: typer.Typer) -> None:
    app.add_typer(node_app, name="node")


