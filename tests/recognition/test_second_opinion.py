"""The second opinion (matcher.py): a track the engine doubts is described by dlib's network
too, and its score lifted only when that network names the same subject nearby. The rule,
the watchlist's reference descriptors, the tracker's fusion of them, and the engine end to
end on the bundled clip and photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from openlfr.recognition import (
    EngineConfig,
    FaceAnalyzer,
    Watcher,
    Watchlist,
    WatchlistError,
    build_watchlist,
    open_source,
)
from openlfr.recognition.analyzer import reference_model_id
from openlfr.recognition.config import DEFAULT_THRESHOLD
from openlfr.recognition.faces import Box
from openlfr.recognition.matcher import (
    SECOND_OPINION_LIFT,
    SECOND_OPINION_WITHIN,
    Identification,
    WatchlistIndex,
    with_second_opinion,
)
from openlfr.recognition.tracker import FaceTracker, Sighting, Track
from openlfr.recognition.watchlist import EnrolledImage, Subject

from .conftest import CLIP, GROUPS, IDENTITIES, PEOPLE_IN_PROBES

W600K = "mobilefacenet_w600k_512:aaaa"
DLIB = "dlib_face_recognition_resnet_model_v1:bbbb"
CHIP = np.zeros((112, 112, 3), np.uint8)


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _watchlist(references: bool = True) -> Watchlist:
    """Three subjects; s1 has two photos, the second of which dlib could not describe."""
    rng = np.random.default_rng(3)

    def image(name: str, with_reference: bool = True) -> EnrolledImage:
        reference = (rng.normal(size=128).astype(np.float32) * 0.1
                     if references and with_reference else None)
        return EnrolledImage(name, "", _unit(rng, 512), reference)

    return Watchlist(W600K, [Subject("s0", [image("a")]),
                             Subject("s1", [image("b"), image("c", with_reference=False)]),
                             Subject("s2", [image("d")])],
                     reference_model=DLIB if references else None)


def _doubtful(subject: int, score: float = DEFAULT_THRESHOLD - 0.2) -> Identification:
    return Identification(subject, 0.35, 3.0, score)


def test_agreement_nearby_lifts_a_doubtful_score_and_nothing_else_does() -> None:
    watchlist = _watchlist()
    index = WatchlistIndex(watchlist)
    assert index.has_reference
    own = watchlist.subjects[1].images[0].reference
    assert own is not None
    near = own + 0.3 / np.sqrt(128)  # L2 0.3 from s1's photo
    assert index.reference_nearest(near) == (1, pytest.approx(0.3, abs=1e-4))

    lifted = with_second_opinion(_doubtful(1), index.reference_nearest(near))
    assert lifted.second_opinion
    assert lifted.score == pytest.approx(DEFAULT_THRESHOLD - 0.2 + SECOND_OPINION_LIFT)
    # dlib puts another subject first: no lift, whatever the distance
    assert with_second_opinion(_doubtful(0), index.reference_nearest(near)) == _doubtful(0)
    # the same subject first, but farther than SECOND_OPINION_WITHIN: no lift
    far = own + (SECOND_OPINION_WITHIN + 0.05) / np.sqrt(128)
    assert index.reference_nearest(far)[0] == 1
    assert with_second_opinion(_doubtful(1), index.reference_nearest(far)) == _doubtful(1)
    # no opinion at all
    assert with_second_opinion(_doubtful(1), (-1, float("inf"))) == _doubtful(1)
    # a lift never passes 1
    assert with_second_opinion(_doubtful(1, 0.9), index.reference_nearest(near)).score == 1.0


def test_a_watchlist_without_references_gives_no_opinion_and_clear_forgets_them() -> None:
    plain = WatchlistIndex(_watchlist(references=False))
    assert not plain.has_reference
    assert plain.reference_nearest(np.zeros(128, np.float32)) == (-1, float("inf"))

    index = WatchlistIndex(_watchlist())
    index.clear()
    assert not index.has_reference
    assert index.reference_nearest(np.zeros(128, np.float32)) == (-1, float("inf"))


def test_references_round_trip_and_a_wrong_length_is_refused(tmp_path: Path) -> None:
    original = _watchlist()
    original.save(tmp_path / "wl.json")
    loaded = Watchlist.load(tmp_path / "wl.json")
    assert loaded.reference_model == DLIB
    b, c = loaded.subjects[1].images
    assert c.reference is None  # the photo dlib could not describe
    assert b.reference is not None and original.subjects[1].images[0].reference is not None
    np.testing.assert_allclose(b.reference, original.subjects[1].images[0].reference, atol=1e-6)

    plain = _watchlist(references=False)
    plain.save(tmp_path / "plain.json")
    data = json.loads((tmp_path / "plain.json").read_text())
    assert "reference_model" not in data
    assert Watchlist.load(tmp_path / "plain.json").reference_model is None

    data = json.loads((tmp_path / "wl.json").read_text())
    data["subjects"][0]["images"][0]["reference"] = [0.0] * 127
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(WatchlistError, match="not 128 finite numbers"):
        Watchlist.load(tmp_path / "bad.json")


def test_a_track_fuses_the_references_of_its_best_views_that_have_one() -> None:
    tracker = FaceTracker(EngineConfig(fuse_best=2))
    track = Track(id=1, box=Box(0, 0, 80, 80), still=True, last_seen_step=0)
    assert tracker.fused_reference(track) is None
    descriptor = np.ones(512, np.float32) / np.sqrt(512)
    for quality, reference in [(5.0, None), (4.0, np.full(128, 1.0, np.float32)),
                               (3.0, np.full(128, 3.0, np.float32)),
                               (1.0, np.full(128, 9.0, np.float32))]:
        track.describing += 1
        tracker.add_sighting(track, Sighting(0, 0.0, track.box, CHIP, quality, descriptor,
                                             reference))
    fused = tracker.fused_reference(track)
    assert fused is not None
    np.testing.assert_allclose(fused, np.full(128, 2.0))  # the two best with one: 1 and 3


# ------------------------------------------------------------ real models, bundled data


@pytest.fixture(scope="module")
def second_opinion_watchlist(analyzer: FaceAnalyzer) -> Watchlist:
    watchlist, _ = build_watchlist(IDENTITIES, analyzer, workers=2, second_opinion=True)
    return watchlist


def _alerts(watchlist: Watchlist, source: str, analyzer: FaceAnalyzer, **config: object):  # type: ignore[no-untyped-def]
    watcher = Watcher(watchlist, EngineConfig(**config), analyzer)  # type: ignore[arg-type]
    return list(watcher.run(open_source(source)))


def test_enrolment_describes_each_photo_with_dlib_too(
        second_opinion_watchlist: Watchlist, sample_watchlist: Watchlist) -> None:
    assert second_opinion_watchlist.reference_model == reference_model_id()
    images = [i for s in second_opinion_watchlist.subjects for i in s.images]
    assert images and all(i.reference is not None and i.reference.shape == (128,)
                          for i in images)
    assert sample_watchlist.reference_model is None  # only when asked


def test_dlib_agreeing_settles_the_engines_doubt_and_disagreeing_does_not(
        second_opinion_watchlist: Watchlist, analyzer: FaceAnalyzer) -> None:
    # At threshold 0.75 the engine alone doubts the performer's first tracks (about 0.54)
    # and alerts only when a later track reaches it; dlib, asked about his first views,
    # names him, so the alert comes at once.
    threshold = 0.75
    [alone] = _alerts(second_opinion_watchlist, str(CLIP), analyzer, threshold=threshold,
                      workers=2)
    assert alone.subject == "lin_manuel_miranda" and not alone.second_opinion
    [helped] = _alerts(second_opinion_watchlist, str(CLIP), analyzer, threshold=threshold,
                       workers=2, second_opinion=True)
    assert helped.subject == "lin_manuel_miranda" and helped.second_opinion
    assert helped.frame < alone.frame and helped.score >= threshold
    assert helped.to_json()["second_opinion"] is True and "second_opinion" not in alone.to_json()

    # The same with dlib's descriptors of two subjects swapped: dlib now puts the other
    # subject first for his face, so no lift: the engine decides as alone.
    subjects = {s.ref: s for s in second_opinion_watchlist.subjects}
    him, other = subjects["lin_manuel_miranda"], subjects["alex_lacamoire"]
    swapped = replace(second_opinion_watchlist, subjects=[
        replace(s, images=[replace(i, reference=other.images[0].reference if s is him
                                   else him.images[0].reference) for i in s.images])
        if s.ref in (him.ref, other.ref) else s for s in second_opinion_watchlist.subjects])
    [unhelped] = _alerts(swapped, str(CLIP), analyzer, threshold=threshold, workers=2,
                         second_opinion=True)
    assert (unhelped.subject, unhelped.frame, unhelped.second_opinion) == (
        alone.subject, alone.frame, False)


def test_nobody_off_the_watchlist_is_alerted_with_the_second_opinion(
        analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    for subject in IDENTITIES.iterdir():
        if subject.name not in PEOPLE_IN_PROBES:
            shutil.copytree(subject, tmp_path / subject.name)
    strangers, _ = build_watchlist(tmp_path, analyzer, workers=2, second_opinion=True)
    for source in [str(GROUPS), str(CLIP)] + [str(IDENTITIES / who) for who in PEOPLE_IN_PROBES]:
        alerts = _alerts(strangers, source, analyzer, workers=0, second_opinion=True)
        assert alerts == [], f"false alert on {source}: {[(a.subject, a.score) for a in alerts]}"


def test_the_engine_refuses_the_second_opinion_without_dlib_descriptors(
        sample_watchlist: Watchlist, analyzer: FaceAnalyzer) -> None:
    with pytest.raises(WatchlistError, match="build --second-opinion"):
        Watcher(sample_watchlist, EngineConfig(second_opinion=True), analyzer)
    foreign = replace(_watchlist(), descriptor_model=analyzer.model_id)
    with pytest.raises(WatchlistError, match="another model's"):
        Watcher(foreign, EngineConfig(second_opinion=True), analyzer)  # references of :bbbb


@pytest.mark.slow
def test_the_commands_build_and_watch_with_a_second_opinion(tmp_path: Path) -> None:
    def openlfr(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "openlfr", *args], capture_output=True,
                              text=True, timeout=300)

    plain, second = tmp_path / "plain.json", tmp_path / "second.json"
    assert openlfr("watchlist", "build", str(IDENTITIES), "-o", str(plain)).returncode == 0
    built = openlfr("watchlist", "build", str(IDENTITIES), "-o", str(second),
                    "--second-opinion")
    assert built.returncode == 0, built.stderr
    shown = openlfr("watchlist", "show", str(second))
    assert "second opinion dlib_face_recognition_resnet_model_v1:" in shown.stdout

    watched = openlfr("watch", str(CLIP), "-w", str(second), "--threshold", "0.75",
                      "--second-opinion", "--json")
    assert watched.returncode == 0, watched.stderr
    alerts = [json.loads(line) for line in watched.stdout.splitlines()][:-1]
    assert [(a["subject"], a.get("second_opinion")) for a in alerts] == [
        ("lin_manuel_miranda", True)]

    refused = openlfr("watch", str(CLIP), "-w", str(plain), "--second-opinion")
    assert refused.returncode != 0
    assert "rebuild it with: openlfr watchlist build --second-opinion" in refused.stderr
