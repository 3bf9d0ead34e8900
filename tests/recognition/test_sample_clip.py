"""The sample clip's shots (openlfr.samples): who is in shot, frame by frame, is what
the tests and the demo judge its alerts by, so the labels must cover the clip exactly
and name only bundled identities."""

from __future__ import annotations

import itertools

import pytest

from openlfr.recognition.sources import open_source
from openlfr.samples import CLIP, CLIP_PERFORMER, IDENTITIES, clip_shots, in_shot, misnamed


def test_the_shots_cover_every_frame_of_the_clip_once_and_name_bundled_identities() -> None:
    shots = clip_shots()
    assert shots[0].first_frame == 0
    assert all(a.last_frame + 1 == b.first_frame for a, b in itertools.pairwise(shots))
    source = open_source(str(CLIP))
    try:
        assert source.frame_count == shots[-1].last_frame + 1 == 275
    finally:
        source.close()
    identities = {p.name for p in IDENTITIES.iterdir() if p.is_dir()}
    assert all(shot.in_shot and shot.in_shot <= identities for shot in shots)
    assert all(shot.shot and shot.labelled_by for shot in shots)
    assert CLIP_PERFORMER in in_shot(0) and CLIP_PERFORMER in in_shot(150)


@pytest.mark.parametrize(("frame", "people"), [
    (0, {"lin_manuel_miranda", "alex_lacamoire"}),
    (20, {"alex_lacamoire"}),
    (81, {"alex_lacamoire"}),
    (82, {"lin_manuel_miranda"}),
    (211, {"obama"}),
    (274, {"obama"}),
    (275 + 82, {"lin_manuel_miranda"}),  # a looped replay numbers its frames on
])
def test_who_is_in_shot_at_a_frame(frame: int, people: set[str]) -> None:
    assert in_shot(frame) == people


def test_an_alert_is_misnamed_when_its_identity_is_not_in_shot_at_its_frame() -> None:
    alerts = [("lin_manuel_miranda", 90), ("obama", 240), ("obama", 90), ("biden", 240)]
    assert misnamed(alerts) == [("obama", 90), ("biden", 240)]
