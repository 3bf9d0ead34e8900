"""`openlfr demo`: the engine on the bundled sample data, end to end, in under a minute."""

from __future__ import annotations

from pathlib import Path

import typer

import openlfr
from openlfr.cli.errors import fail
from openlfr.recognition import (
    EngineConfig,
    FaceAnalyzer,
    RecognitionError,
    Watcher,
    build_watchlist,
    open_source,
)

SAMPLE = Path(openlfr.__file__).parent / "sample_data" / "faces"


def demo(
    workers: int = typer.Option(2, min=0, help="Worker processes for detection and description."),
) -> None:
    """Enrol the bundled sample subjects, then watch the bundled clip and group photos.

    Uses only files shipped with openlfr (see sample_data/faces/README.md for their
    sources and licences) and writes no file.
    """
    try:
        analyzer = FaceAnalyzer()
        print(f"1. enrolling sample subjects from {SAMPLE / 'identities'}")
        watchlist, report = build_watchlist(SAMPLE / "identities", analyzer, workers=workers)
        print(
            f"   {len(watchlist.subjects)} subjects, {report.enrolled_images} photos: "
            + ", ".join(s.ref for s in watchlist.subjects)
        )
        config = EngineConfig(workers=workers)
        for step, source in (
            (2, SAMPLE / "video" / "short_hamilton_clip.mp4"),
            (3, SAMPLE / "groups"),
        ):
            print(f"{step}. watching {source.name} (threshold {config.threshold})")
            watcher = Watcher(watchlist, config, analyzer)
            for alert in watcher.run(open_source(str(source))):
                print(
                    f"   ALERT frame {alert.frame:>4}  {alert.subject:<20} score {alert.score:.3f}"
                )
            c = watcher.counters
            print(
                f"   {c.frames_processed} frames, {c.faces_detected} faces, {c.tracks} tracks, "
                f"{c.descriptors} descriptors, {c.alerts} alerts; non-matching faces kept: none"
            )
    except RecognitionError as exc:
        fail(exc)
    print(
        "Next: openlfr watchlist build YOUR_PHOTOS --out w.json"
        " && openlfr watch VIDEO --watchlist w.json"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
