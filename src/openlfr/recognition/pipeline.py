"""The engine's pipeline: decode → detect → track → describe → match → alert.

Stages and where they run:

* decode: a thread reads the source into a bounded queue. On a live source a full queue
  means the engine is behind, so the newest frame is dropped and counted; on a file the
  thread waits instead, so no frame is ever dropped. Before it comes to dropping, a live
  source whose frames pile up (half the queue) has its whole-frame searches made
  `shed_when_behind` times rarer until the queue is empty again (`Watcher._shed`).
* detect and describe: workers (see workers.py), several frames at once, so every core
  works. On video larger than `detect_max_px` the whole frame is searched on one frame
  in `full_detection_every` (smaller video: `full_detection_every_small`); the frames
  between are searched only around the tracked faces (regions laid on one sheet, a
  fraction of the pixels), once the frame before them is tracked. Frames whose regions
  would cover much of the frame are searched whole.
* track, fuse each track's descriptors, match and decide: the calling thread, in frame
  order; cheap NumPy work. Its matrix products keep to one BLAS thread while the pipeline
  runs: the cores belong to the workers, and a BLAS pool contending with them made
  matching a 5,000-entry watchlist 5x slower (17 ms a call instead of 3).

Only alerts leave the pipeline. A face that matches nobody lives in memory until its
track ends and is never written, logged or put in an exception.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from openlfr.recognition.analyzer import FaceAnalyzer, FaceSearch, reference_model_id
from openlfr.recognition.config import EngineConfig
from openlfr.recognition.errors import WatchlistError
from openlfr.recognition.faces import Box, FoundFace, RGBImage
from openlfr.recognition.matcher import (
    SECOND_OPINION_LIFT,
    Identification,
    WatchlistIndex,
    with_second_opinion,
)
from openlfr.recognition.sources import Frame, FrameSource
from openlfr.recognition.tracker import FaceTracker, Sighting, Track
from openlfr.recognition.watchlist import Watchlist
from openlfr.recognition.workers import (
    Described,
    describe_faces_task,
    locate_near_task,
    locate_task,
    make_executor,
    timed,
)


@dataclass
class Alert:
    """A track matched a watchlist subject at or above the threshold."""

    subject: str
    """The subject reference (folder name at enrolment)."""
    subject_index: int
    score: float
    """The decision score (0..1) that reached the threshold (see matcher.py)."""
    similarity: float
    """The track's similarity to the subject (cosine, or 1 - L2 for dlib's descriptors)."""
    track: int
    frame: int
    timestamp_s: float
    time: str
    """Wall-clock time the alert was raised, ISO 8601 UTC."""
    box: Box
    probe_crop: RGBImage = field(repr=False)
    """The aligned face that scored best, in memory only: the caller decides on keeping it."""
    second_opinion: bool = False
    """The score reached the threshold only with the second opinion's lift (matcher.py)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "alert",
            "subject": self.subject,
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "track": self.track,
            "frame": self.frame,
            "timestamp_s": round(self.timestamp_s, 3),
            "time": self.time,
            "box": self.box.as_list(),
        }
        if self.second_opinion:
            out["second_opinion"] = True
        return out


@dataclass
class Counters:
    """What the engine saw. These (and alerts) are all that is ever reported."""

    frames: int = 0
    """Frames read from the source."""
    frames_processed: int = 0
    frames_dropped: int = 0
    """Live frames skipped because the engine was behind."""
    frames_near_behind: int = 0
    """Live frames searched only near the tracks because the engine was behind, which a
    whole-frame search would have taken otherwise (EngineConfig.shed_when_behind)."""
    frames_unreadable: int = 0
    faces_detected: int = 0
    faces_too_small: int = 0
    tracks: int = 0
    descriptors: int = 0
    alerts: int = 0

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class StageCpu:
    """CPU seconds each stage took over a run, summed over the threads that ran it: where
    the time goes, so that a slow scene says which stage to make cheaper."""

    decode_s: float = 0.0
    """The decode thread: reading and decoding the source."""
    search_whole_s: float = 0.0
    """Whole-frame face searches (detector and box quality)."""
    search_near_s: float = 0.0
    """Searches only around the tracked faces (frames between whole searches)."""
    describe_s: float = 0.0
    """Landmarks, alignment and the descriptor network, for the faces chosen to describe."""
    track_match_s: float = 0.0
    """The calling thread: tracking, fusing, matching against the watchlist, deciding and
    handing work to the workers."""
    other_s: float = 0.0
    """The rest of this process's CPU over the run: the video decoder's own threads,
    OpenCV's thread pool, the caller between alerts (worker processes' other CPU, with
    dlib's networks, is not seen)."""

    def per_frame_ms(self, frames: int) -> dict[str, float]:
        """Each stage's CPU milliseconds per processed frame, and their total."""
        stages = {name.removesuffix("_s"): value for name, value in asdict(self).items()}
        stages["total"] = sum(stages.values())
        return {name: round(1000.0 * value / max(frames, 1), 2)
                for name, value in stages.items()}


def stage_cpu_line(ms: dict[str, float]) -> str:
    """One line for people from ``StageCpu.per_frame_ms``: each stage's CPU per frame."""
    return (f"CPU per frame: decode {ms['decode']:.1f} ms, whole-frame search "
            f"{ms['search_whole']:.1f}, near search {ms['search_near']:.1f}, describe "
            f"{ms['describe']:.1f}, track and match {ms['track_match']:.1f}, other "
            f"{ms['other']:.1f}; total {ms['total']:.1f} ms")


_END = object()


NEAR_SEARCH_MAX_SHARE = 3
"""A frame is searched near its tracks only when their regions cover less than a third of
it; otherwise the whole frame is searched."""


@dataclass
class _PendingDetect:
    frame: Frame
    future: Future[tuple[FaceSearch, float]] | None
    """(search, CPU seconds); None: a frame to search near the tracks, sent once every
    frame before it is tracked (its regions come from them)."""
    whole: bool = True
    """Searched whole (else near the tracks)."""


@dataclass
class _PendingDescribe:
    frame: Frame
    sightings: list[tuple[Track, FoundFace]]
    future: Future[tuple[Described, float]]
    """((chips, pose factors, descriptors, second opinions) of the sightings, in order;
    CPU seconds)."""


class Watcher:
    """Runs the pipeline for one watchlist. Create one per run; read `counters` after."""

    def __init__(
        self,
        watchlist: Watchlist,
        config: EngineConfig | None = None,
        analyzer: FaceAnalyzer | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.analyzer = analyzer or FaceAnalyzer()
        if watchlist.descriptor_model != self.analyzer.model_id:
            raise WatchlistError(
                f"watchlist built with {watchlist.descriptor_model}, engine uses "
                f"{self.analyzer.model_id}; rebuild the watchlist"
            )
        self.index = WatchlistIndex(watchlist)
        if self.config.second_opinion and (
                not self.index.has_reference
                or watchlist.reference_model != reference_model_id()):
            raise WatchlistError(
                "the second opinion needs the watchlist's descriptors from dlib's network "
                "(this one has none, or another model's); rebuild it with: openlfr watchlist "
                "build --second-opinion")
        self.counters = Counters()
        self.stage_cpu = StageCpu()
        self.tracker = FaceTracker(self.config, metric=self.index.metric)
        self._behind = False

    def set_threshold(self, threshold: float) -> None:
        """Decide with ``threshold`` from now on (a node applies the one the platform
        says when an amendment changes it during a run). Call it between frames, from
        ``on_progress``; a track that already alerted stays alerted."""
        self.config = replace(self.config, threshold=threshold)  # validated there
        self.tracker.config = self.config

    def run(
        self, source: FrameSource, on_progress: Callable[[Counters], None] | None = None
    ) -> Iterator[Alert]:
        """Yield alerts as they happen until the source ends (or the caller stops).

        ``on_progress`` is called after each processed frame, and about every half second
        while no frame comes; an exception it raises stops the run."""
        workers = self.config.workers
        self._executor = executor = make_executor(workers, self.analyzer)
        # Start worker processes now, before the decode thread exists (fork safety).
        executor.submit(int).result()
        frames: queue.Queue[Any] = queue.Queue(maxsize=self.config.queue_frames)
        stop = threading.Event()
        process_started = time.process_time()  # before the decode thread: all its CPU
        decoder = threading.Thread(
            target=self._decode, args=(source, frames, stop), name="openlfr-decode", daemon=True
        )
        decoder.start()
        one_blas_thread = threadpool_limits(limits=1, user_api="blas")
        # CPU of this thread, counted only while the run has it (not while the caller
        # holds the generator between alerts).
        cpu_started = time.thread_time()
        try:
            for alert in self._process(frames, max(2, 2 * workers), on_progress,
                                       source.is_live):
                self.stage_cpu.track_match_s += time.thread_time() - cpu_started
                yield alert
                cpu_started = time.thread_time()
        finally:
            self.stage_cpu.track_match_s += time.thread_time() - cpu_started
            if workers == 0:  # the tasks ran on this thread too: counted in their stages
                c = self.stage_cpu
                c.track_match_s = max(
                    0.0, c.track_match_s - c.search_whole_s - c.search_near_s - c.describe_s)
            one_blas_thread.restore_original_limits()
            stop.set()
            _drain(frames)
            decoder.join(timeout=5)
            executor.shutdown(wait=True, cancel_futures=True)
            counted = sum(asdict(self.stage_cpu).values())
            self.stage_cpu.other_s = max(0.0, time.process_time() - process_started - counted)
            self.counters.frames_unreadable = source.unreadable
            self.counters.tracks = self.tracker.tracks_started

    def _decode(self, source: FrameSource, frames: queue.Queue[Any], stop: threading.Event) -> None:
        try:
            self._decode_frames(source, frames, stop)
        finally:
            self.stage_cpu.decode_s = time.thread_time()  # this thread's CPU: all decoding

    def _decode_frames(
        self, source: FrameSource, frames: queue.Queue[Any], stop: threading.Event
    ) -> None:
        try:
            for frame in source:
                if stop.is_set():
                    return
                self.counters.frames += 1
                if source.is_live:
                    try:
                        frames.put_nowait(frame)
                    except queue.Full:
                        self.counters.frames_dropped += 1
                    continue
                while not stop.is_set():
                    try:
                        frames.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            _put_until_stopped(frames, _END, stop)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put_until_stopped(frames, exc, stop)

    def _process(
        self,
        frames: queue.Queue[Any],
        max_in_flight: int,
        on_progress: Callable[[Counters], None] | None,
        live: bool = False,
    ) -> Iterator[Alert]:
        detecting: deque[_PendingDetect] = deque()
        describing: list[_PendingDescribe] = []
        source_done = False
        taken = 0
        while not source_done or detecting or describing:
            if not source_done and len(detecting) + len(describing) < max_in_flight:
                try:
                    item = frames.get(timeout=0.005 if (detecting or describing) else 0.5)
                except queue.Empty:
                    item = None
                    if on_progress and not (detecting or describing):
                        on_progress(self.counters)  # idle: the caller may stop a stalled source
                if item is _END:
                    source_done = True
                elif isinstance(item, BaseException):
                    raise item
                elif item is not None:
                    # Whole frames are searched at once, in parallel; the frames between
                    # wait for the frame before them to be tracked.
                    if live:
                        self._note_backlog(frames.qsize())
                    every = self._full_every(item)
                    whole = item.still or taken % (every * self._shed()) == 0
                    if not whole and taken % every == 0:  # whole, had the engine kept up
                        self.counters.frames_near_behind += 1
                    taken += 1
                    detecting.append(_PendingDetect(
                        item, self._submit_detect(item) if whole else None, whole))
            else:
                # Frames leave detection in order: wait for the oldest (a later frame
                # already done would return at once, over and over, and spin this thread
                # on a core the workers need).
                head = self._send_head(detecting)
                futures: list[Future[Any]] = [head] if head is not None else []
                futures += [p.future for p in describing]
                wait(futures, timeout=0.05, return_when=FIRST_COMPLETED)

            while (head := self._send_head(detecting)) is not None and head.done():
                done = detecting.popleft()
                search, cpu = head.result()
                if done.whole:
                    self.stage_cpu.search_whole_s += cpu
                else:
                    self.stage_cpu.search_near_s += cpu
                describe = self._track(done.frame, search)
                if describe is not None:
                    describing.append(describe)
                if on_progress:
                    on_progress(self.counters)

            for pending in [p for p in describing if p.future.done()]:
                describing.remove(pending)
                described, cpu = pending.future.result()
                self.stage_cpu.describe_s += cpu
                yield from self._match(pending.frame, pending.sightings, described)

    def _note_backlog(self, waiting: int) -> None:
        """A live source's frames waiting to be searched: from half the queue the engine is
        behind, and stays so until none waits (so it does not flip on every frame)."""
        if waiting >= max(1, self.config.queue_frames // 2):
            self._behind = True
        elif waiting == 0:
            self._behind = False

    def _shed(self) -> int:
        """How many times fewer frames are searched whole now: ``shed_when_behind`` while a
        live source is behind, else 1."""
        return self.config.shed_when_behind if self._behind else 1

    def _full_every(self, frame: Frame) -> int:
        """One frame in this many is searched whole (the rest near the tracks) while the
        engine keeps up."""
        c = self.config
        if max(frame.image.shape[:2]) > c.detect_max_px:
            return c.full_detection_every
        return c.full_detection_every_small

    def _submit_detect(self, frame: Frame) -> Future[tuple[FaceSearch, float]]:
        c = self.config
        # A photo may be all face; video frames do without the second look (analyzer.py).
        return self._executor.submit(timed, locate_task, frame.image, c.min_face_px,
                                     c.detect_max_px, frame.still)

    def _send_head(
        self, detecting: deque[_PendingDetect]
    ) -> Future[tuple[FaceSearch, float]] | None:
        """Send the oldest frame to be searched near the tracks if it waits for that (every
        frame before it is tracked); its search, or None when no frame waits."""
        if not detecting:
            return None
        head = detecting[0]
        if head.future is None:
            regions = self.tracker.regions_ahead(head.frame.index)
            height, width = head.frame.image.shape[:2]
            c = self.config
            if not regions:
                head.future = Future()
                head.future.set_result((FaceSearch(faces=[], too_small=0), 0.0))
            elif sum(r.area for r in regions) * NEAR_SEARCH_MAX_SHARE > height * width:
                # Large faces near the camera: their regions cover much of the frame,
                # and the whole frame costs no more and misses no newcomer.
                head.future = self._submit_detect(head.frame)
                head.whole = True
            else:
                head.future = self._executor.submit(
                    timed, locate_near_task, head.frame.image, regions, c.min_face_px,
                    c.detect_max_px)
        return head.future

    def _track(self, frame: Frame, search: FaceSearch) -> _PendingDescribe | None:
        self.counters.frames_processed += 1
        self.counters.faces_detected += len(search.faces) + search.too_small
        self.counters.faces_too_small += search.too_small
        self.tracker.slower = self._shed()
        sightings = self.tracker.update(search.faces, frame.still, frame.index)
        if not sightings:
            return None
        # Only the faces chosen to describe are aligned (landmarks cost about a
        # millisecond a face; a crowd frame has a dozen faces and describes two or three).
        future = self._executor.submit(
            timed, describe_faces_task, frame.image, [face.box for _, face in sightings],
            [self._ask_second(track) for track, _ in sightings],
        )
        self.counters.descriptors += len(sightings)
        return _PendingDescribe(frame, sightings, future)

    def _ask_second(self, track: Track) -> bool:
        """Whether the second opinion is asked about the track's next view: a new track,
        or one whose score falls short of the threshold by less than the lift."""
        if not self.config.second_opinion or track.alerted:
            return False
        return track.score is None or self._in_doubt(track.score)

    def _in_doubt(self, score: float) -> bool:
        """Short of the threshold by less than the second opinion's lift."""
        return self.config.threshold - SECOND_OPINION_LIFT <= score < self.config.threshold

    def _match(
        self,
        frame: Frame,
        sightings: list[tuple[Track, FoundFace]],
        described: Described,
    ) -> Iterator[Alert]:
        chips, poses, descriptors, references = described
        fused: list[tuple[Track, np.ndarray]] = []
        for (track, face), chip, pose, descriptor, reference in zip(
            sightings, chips, poses, descriptors, references, strict=True
        ):
            # A track trusts its larger, sharper and more frontal views most.
            sighting = Sighting(
                frame.index, frame.timestamp_s, face.box, chip, face.quality * pose, descriptor,
                reference,
            )
            track_descriptor = self.tracker.add_sighting(track, sighting)
            if track_descriptor is not None:
                fused.append((track, track_descriptor))
        if not fused:
            return
        found = self._identify([t for t, _ in fused], np.stack([d for _, d in fused]))
        for (track, _), identification in zip(fused, found, strict=True):
            track.score = identification.score  # how often it is described next
            if identification.score < self.config.threshold:
                continue
            subject = identification.subject_index
            evidence = self._evidence(track, subject)
            decision = self.tracker.decide(track, subject, identification.score, evidence)
            if decision is None:
                continue
            self.counters.alerts += 1
            yield Alert(
                subject=self.index.subject_refs[subject],
                subject_index=subject,
                score=decision.score,
                similarity=identification.similarity,
                track=track.id,
                frame=evidence.frame_index,
                timestamp_s=evidence.timestamp_s,
                time=datetime.now(UTC).isoformat(timespec="milliseconds"),
                box=evidence.box,
                probe_crop=evidence.chip,
                second_opinion=identification.second_opinion,
            )

    def _identify(self, tracks: list[Track], probes: np.ndarray) -> list[Identification]:
        """Each track's best subject and score (matcher.py); a score short of the
        threshold is lifted where the second opinion, asked about the views the track
        fuses, agrees."""
        found = self.index.identify(probes)
        if not self.config.second_opinion:
            return found
        lifted = []
        for track, identification in zip(tracks, found, strict=True):
            reference = (self.tracker.fused_reference(track)
                         if self._in_doubt(identification.score) else None)
            if reference is not None:
                identification = with_second_opinion(
                    identification, self.index.reference_nearest(reference))
            lifted.append(identification)
        return lifted

    def _evidence(self, track: Track, subject: int) -> Sighting:
        """The track's sighting most like the subject: its face is the probe crop."""
        similarities = self.index.subject_similarities(
            np.stack([s.descriptor for s in track.sightings])
        )[:, subject]
        return track.sightings[int(similarities.argmax())]


def _put_until_stopped(frames: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            frames.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _drain(frames: queue.Queue[Any]) -> None:
    while True:
        try:
            frames.get_nowait()
        except queue.Empty:
            return
