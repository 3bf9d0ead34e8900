"""The bundled sample data (``sample_data/faces``; its README gives sources, licences and
labels): where it lies, and who is in shot in the sample clip, frame by frame.

The clip is four shots of one evening (``short_hamilton_clip.shots.csv``): the stage,
the pianist in profile, the performer facing the camera, and the audience, where a
watchlisted face sits in profile. An alert on the clip is right when it names someone
in shot at its frame (`misnamed`); the demo's operator adjudicates by that, and the
tests hold the engine to it on any CPU (where scores differ in the last digits, a
profile may reach the threshold on one and not on another; a face out of shot may not).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SAMPLE_FACES = Path(__file__).parent / "sample_data" / "faces"
IDENTITIES = SAMPLE_FACES / "identities"
"""One folder of photos per identity, named by the identity."""
GROUPS = SAMPLE_FACES / "groups"
CLIP = SAMPLE_FACES / "video" / "short_hamilton_clip.mp4"
CLIP_SHOTS = CLIP.with_suffix(".shots.csv")
CLIP_PERFORMER = "lin_manuel_miranda"
"""Facing the camera for most of the clip: every watchlist with him alerts on him."""


@dataclass(frozen=True)
class Shot:
    """Frames ``first_frame`` to ``last_frame`` (inclusive) and the identities in shot."""

    first_frame: int
    last_frame: int
    in_shot: frozenset[str]
    shot: str
    labelled_by: str


@cache
def clip_shots() -> tuple[Shot, ...]:
    """The clip's shots, in order (``CLIP_SHOTS``)."""
    with CLIP_SHOTS.open(newline="", encoding="utf-8") as f:
        return tuple(
            Shot(int(row["first_frame"]), int(row["last_frame"]),
                 frozenset(row["in_shot"].split()), row["shot"], row["labelled_by"])
            for row in csv.DictReader(f))


def in_shot(frame: int) -> frozenset[str]:
    """The identities in shot at `frame` of the clip. A looped replay numbers its frames
    on from one pass to the next (``openlfr node run --loop``): frame 275 is frame 0."""
    shots = clip_shots()
    frame %= shots[-1].last_frame + 1
    for shot in shots:
        if shot.first_frame <= frame <= shot.last_frame:
            return shot.in_shot
    raise ValueError(f"{CLIP_SHOTS.name} leaves frame {frame} out")


def misnamed(alerts: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The alerts, as (identity, frame), that name nobody in shot at their frame."""
    return [(who, frame) for who, frame in alerts if who not in in_shot(frame)]
