"""`openlfr watchlist build` and `openlfr watch`: the engine from the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openlfr.cli.errors import fail
from openlfr.recognition import (
    DEFAULT_THRESHOLD,
    EngineConfig,
    FaceAnalyzer,
    RecognitionError,
    Watcher,
    Watchlist,
    build_watchlist,
    open_source,
)
from openlfr.recognition.backends import (
    DEFAULT_DESCRIPTOR,
    DEFAULT_DETECTOR,
    descriptor_for_model,
    resolve_detector,
)
from openlfr.recognition.enrolment import ImageOutcome
from openlfr.recognition.pipeline import stage_cpu_line

stderr = Console(stderr=True, highlight=False)

DETECTOR_OPTION = typer.Option(
    DEFAULT_DETECTOR,
    help="Face detector: ultralight (small CNN, faces from about 20 px at detection scale), "
    "hog (dlib's, frontal faces from 80 px) or cnn (dlib's MMOD; slow).",
)
DESCRIPTOR_OPTION = typer.Option(
    DEFAULT_DESCRIPTOR,
    help="Descriptor: w600k (512-D MobileFaceNet trained on WebFace600K, the default), "
    "mobilefacenet (faceplugin's 512-D MobileFaceNet) or dlib (128-D, the reference). "
    "A watchlist works only with the descriptor it was built with.",
)
BACKEND_OPTION = typer.Option(
    "auto", help="How dlib's networks run: auto (ONNX Runtime if it loads), onnx, or dlib."
)
MIN_FACE_PX_OPTION = typer.Option(
    EngineConfig.min_face_px, min=1, help="Skip (and count) faces narrower than this.")
DETECT_MAX_PX_OPTION = typer.Option(
    EngineConfig.detect_max_px, min=64,
    help="Scale frames down to this long side for detection.")
FULL_DETECTION_EVERY_OPTION = typer.Option(
    EngineConfig.full_detection_every,
    min=1,
    help="Video larger than --detect-max-px: search the whole frame on one frame in "
    "N, the frames between only around the faces being tracked (a newcomer is found at "
    "most N frames late). 1: every frame whole.",
)
FULL_DETECTION_EVERY_SMALL_OPTION = typer.Option(
    EngineConfig.full_detection_every_small,
    min=1,
    help="The same for video no larger than --detect-max-px (720p and down). 2 saves "
    "13-22% of the CPU at 720p but breaks more tracks and lost a person at 4,848 "
    "entries on one walk-by scene in 16: for a CPU that would otherwise drop frames.",
)
SHED_WHEN_BEHIND_OPTION = typer.Option(
    EngineConfig.shed_when_behind,
    min=1,
    help="Live sources: while frames pile up (the engine is behind), search the whole "
    "frame N times less often, near the tracks between, and describe each track N times "
    "less often, before any frame is dropped (720p: one frame in 2; 1080p: one in 6; a "
    "track every 8 frames, not 4). 1: drop frames instead.",
)

watchlist_app = typer.Typer(help="Build and inspect watchlist files.", no_args_is_help=True)


@watchlist_app.command("build")
def watchlist_build(
    images_dir: Path = typer.Argument(
        ...,
        help="Folder with one sub-folder per subject; the sub-folder name is the subject "
        "reference, its photos (.jpg/.png) are enrolled.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Watchlist file to write (JSON, format v2)."),
    workers: int = typer.Option(2, min=0, help="Workers (0: none)."),
    backend: str = BACKEND_OPTION,
    detector: str = DETECTOR_OPTION,
    descriptor: str = DESCRIPTOR_OPTION,
    second_opinion: bool = typer.Option(
        False, "--second-opinion",
        help="Describe each photo with dlib's network too, for `openlfr watch "
        "--second-opinion` (enrolment about 15% slower)."),
) -> None:
    """Enrol subjects from photos. A photo with no face or several faces is reported by name
    and skipped; the file is written only if at least one subject was enrolled. Prints
    the enrolment rate (photos/s) at the end."""
    started = time.perf_counter()
    try:
        analyzer = FaceAnalyzer(
            backend=backend, detector=resolve_detector(detector), descriptor=descriptor
        )

        def report(outcome: ImageOutcome) -> None:
            if not outcome.enrolled:
                stderr.print(
                    f"skipped {outcome.subject_ref}/{outcome.path.name}: {outcome.problem}"
                )

        watchlist, enrolment = build_watchlist(
            images_dir, analyzer, workers=workers, on_photo=report,
            second_opinion=second_opinion,
        )
        watchlist.save(out)
    except (RecognitionError, OSError) as exc:
        fail(exc)
    skipped = len(enrolment.skipped)
    elapsed = time.perf_counter() - started
    photos = len(enrolment.outcomes)
    print(
        f"enrolled {len(watchlist.subjects)} subjects from {enrolment.enrolled_images} images"
        f" ({skipped} skipped) into {out}; {photos} photos in {elapsed:.1f} s"
        f" ({photos / max(elapsed, 1e-9):.1f} photos/s)"
    )


@watchlist_app.command("show")
def watchlist_show(path: Path = typer.Argument(..., help="Watchlist file.")) -> None:
    """Print a watchlist's subjects and image counts (no descriptors)."""
    try:
        watchlist = Watchlist.load(path)
    except RecognitionError as exc:
        fail(exc)
    second = (f", second opinion {watchlist.reference_model}" if watchlist.reference_model
              else "")
    print(
        f"{path}: {len(watchlist.subjects)} subjects, {watchlist.image_count} images, "
        f"model {watchlist.descriptor_model}{second}, created {watchlist.created_at}"
    )
    for subject in watchlist.subjects:
        print(f"  {subject.ref}: {len(subject.images)} images")


def watch(
    source: str = typer.Argument(
        ...,
        help="Video file, folder of images, image file, stream URL (rtsp://, http://...) "
        "or webcam index (0, 1, ...).",
    ),
    watchlist_path: Path = typer.Option(..., "--watchlist", "-w", help="Watchlist file."),
    threshold: float = typer.Option(
        DEFAULT_THRESHOLD,
        min=0.0,
        max=1.0,
        help="Alert when a track's decision score (0..1: how far its best subject stands out "
        "from the rest of the watchlist; 0.5 is the calibrated default) reaches this.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON object per line: alerts, then a summary (counters, "
        "cpu_ms_per_frame, fps)."
    ),
    workers: int = typer.Option(2, min=0, help="Workers for detection and description."),
    detect_max_px: int = DETECT_MAX_PX_OPTION,
    min_face_px: int = MIN_FACE_PX_OPTION,
    full_detection_every: int = FULL_DETECTION_EVERY_OPTION,
    full_detection_every_small: int = FULL_DETECTION_EVERY_SMALL_OPTION,
    shed_when_behind: int = SHED_WHEN_BEHIND_OPTION,
    realtime: bool = typer.Option(
        False, "--realtime",
        help="Deliver a video file at its frame rate, as a camera would: frames the engine "
        "cannot keep up with are shed or dropped (counted). To check that this machine "
        "keeps up with such a camera."),
    realtime_fps: float | None = typer.Option(
        None, min=0.1, help="With --realtime: this rate instead of the file's own (a "
        "higher rate shows how a slower machine would fare). Implies --realtime."),
    max_reconnects: int = typer.Option(
        20, min=0, help="Live sources: reconnect attempts before giving up."
    ),
    backend: str = BACKEND_OPTION,
    detector: str = DETECTOR_OPTION,
    second_opinion: bool = typer.Option(
        False, "--second-opinion",
        help="Ask dlib's network too about tracks that fall short of the threshold by less "
        "than 0.25, and lift their score by 0.25 when it names the same subject (needs a "
        "watchlist built with --second-opinion; audit it with `openlfr evaluate "
        "--second-opinion`; governed deployments do not offer it yet)."),
) -> None:
    """Watch a source for watchlist subjects and print each alert as it happens
    (WATCH_HELP)."""
    try:
        config = EngineConfig(
            threshold=threshold,
            workers=workers,
            detect_max_px=detect_max_px,
            min_face_px=min_face_px,
            full_detection_every=full_detection_every,
            full_detection_every_small=full_detection_every_small,
            shed_when_behind=shed_when_behind,
            second_opinion=second_opinion,
        )
        watchlist = Watchlist.load(watchlist_path)
        frame_source = open_source(source, max_reconnects=max_reconnects,
                                   realtime=realtime, realtime_fps=realtime_fps)
        analyzer = FaceAnalyzer(
            backend=backend,
            detector=resolve_detector(detector),
            descriptor=descriptor_for_model(watchlist.descriptor_model),  # the watchlist's own
        )
        watcher = Watcher(watchlist, config, analyzer)
    except (RecognitionError, ValueError) as exc:
        fail(exc)

    started = time.perf_counter()
    show_bar = not as_json and not frame_source.is_live
    progress = Progress(
        TextColumn("watching"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TimeRemainingColumn(),
        console=stderr,
        disable=not show_bar,
        transient=True,
    )
    interrupted = False
    try:
        with progress:
            task = progress.add_task("frames", total=frame_source.frame_count)
            for alert in watcher.run(
                frame_source, lambda c: progress.update(task, completed=c.frames_processed)
            ):
                if as_json:
                    print(json.dumps(alert.to_json()), flush=True)
                else:  # plain print: rich shows it above the progress bar on a terminal
                    print(
                        f"ALERT  {alert.timestamp_s:8.2f}s  frame {alert.frame:>6}  "
                        f"subject {alert.subject}  score {alert.score:.3f}  track {alert.track}"
                        + ("  (second opinion)" if alert.second_opinion else ""),
                        flush=True,
                    )
    except KeyboardInterrupt:
        interrupted = True
    except RecognitionError as exc:
        fail(exc)
    finally:
        frame_source.close()
    elapsed = time.perf_counter() - started
    counters = watcher.counters
    fps = counters.frames_processed / elapsed if elapsed > 0 else 0.0
    cpu_ms = watcher.stage_cpu.per_frame_ms(counters.frames_processed)
    if as_json:
        summary = {
            "type": "summary",
            "source": frame_source.name,
            "threshold": threshold,
            "detector": analyzer.backends.detector_name,
            "descriptor": analyzer.backends.descriptor_name,
            "backend": analyzer.backends.name,
            **counters.to_json(),
            "cpu_ms_per_frame": cpu_ms,
            "elapsed_s": round(elapsed, 3),
            "fps": round(fps, 2),
            "interrupted": interrupted,
        }
        print(json.dumps(summary), flush=True)
    else:
        print(
            f"{counters.frames_processed} frames in {elapsed:.1f} s ({fps:.1f} fps); "
            f"{counters.faces_detected} faces ({counters.faces_too_small} too small), "
            f"{counters.tracks} tracks, {counters.descriptors} descriptors, "
            f"{counters.alerts} alerts; {counters.frames_dropped} frames dropped"
            + (f", {counters.frames_near_behind} searched near the tracks to keep up"
               if counters.frames_near_behind else "")
            + (f", {counters.frames_unreadable} unreadable" if counters.frames_unreadable else "")
        )
        print(stage_cpu_line(cpu_ms))
    if interrupted:
        raise typer.Exit(130)


# Paragraphs as single strings: the help renderer keeps a docstring's line breaks.
WATCH_HELP = "\n\n".join([
    "Watch a source for watchlist subjects and print each alert as it happens.",
    "Faces that match no subject are never written anywhere; only counters move.",
    "The run ends with its counters and the CPU each stage took per frame (decode, "
    "whole-frame and near searches, describe, track and match, other): where the time goes.",
])


def register(app: typer.Typer) -> None:
    app.add_typer(watchlist_app, name="watchlist")
    app.command("watch", help=WATCH_HELP)(watch)
