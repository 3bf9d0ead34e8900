"""Engine settings with their defaults. Plain data: the CLI and the platform fill it in."""

from __future__ import annotations

from dataclasses import dataclass

# Default decision threshold on the score (0..1; see matcher.py): 0.5 is reached when a
# face stands out from the rest of the watchlist by `Calibration.standout_at_half`
# deviations more than the best of that many strangers would by chance. The constants were
# calibrated on walk-by scenes with 18 and with 4,887 entries (README, "Score and
# threshold"); the deployed threshold is a policy decision governed by the platform, which
# holds it against the latest equity audit's false-alert rate at the watchlist's size.
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class EngineConfig:
    """How the engine looks at frames. Every field has a safe default."""

    threshold: float = DEFAULT_THRESHOLD
    """Decision score (0..1) at or above which a track raises an alert."""

    min_face_px: int = 32
    """Faces narrower than this (original-frame pixels) are skipped and counted. The detector
    runs at the scale that lets it see faces this small, so smaller values find smaller
    faces and cost time: detection cost grows with the scale squared."""

    detect_max_px: int = 1280
    """Cap on the long side of the image the detector sees: large frames are detected at a
    reduced scale, so faces smaller than the detector's minimum at that scale are missed."""

    full_detection_every: int = 3
    """Video frames larger than detect_max_px (1080p and up, where a whole-frame search
    costs most): the whole frame is searched for faces on one frame in this many; the
    frames between are searched only around the faces being tracked (a new face is found
    at most this many frames late, at a fraction of the cost). 1: every frame whole.
    Smaller frames: full_detection_every_small."""

    full_detection_every_small: int = 1
    """The same for video frames no larger than detect_max_px (720p and down). 1, the
    default, searches every frame whole: at 720p that already runs faster than real time
    on the walk-by scenes. 2 takes 13-22% off the CPU at 720p, but breaks
    more tracks, and on the walk-by scenes with 4,848 further entries it lost a person in
    one run of 16 (README, "Benchmark"): a setting for a CPU that would otherwise drop
    frames, not a free gain."""

    shed_when_behind: int = 2
    """Live sources only: while the engine is behind (frames waiting to be searched fill
    half of ``queue_frames``, until none waits), the whole frame is searched this many
    times less often (near the tracks between) and tracks are described again this many
    times less often (a new track's first view and a clearly better face still at once),
    so the CPU sheds detection and describing work before a frame has to be dropped: 720p
    every frame whole becomes one in 2, 1080p one in 3 becomes one in 6, a track described
    every 4 frames looked at every 8. 1: never (frames are dropped instead). Files are
    never behind: the engine reads them at its own pace."""

    embed_every_frames: int = 4
    """A live track is described again at least this often (in frames)."""

    describe_less_below: float = 0.2
    """A track whose decision score, once fuse_best views are fused, is below this (like
    no one on the watchlist: a passer-by scores about 0.08 at any watchlist size) is
    described less often (tracker.UNLIKE_ANYONE_SLOWER times embed_every_frames); a clearly
    better face (better_face_ratio) is still described at once. 0: every track as often."""

    better_face_ratio: float = 1.3
    """A track is described again when its face quality grows by this factor."""

    track_memory: int = 8
    """A track keeps its this-many best-quality described sightings (in memory only)."""

    fuse_best: int = 5
    """A track decides on the mean descriptor of its this-many best sightings."""

    repeat_alert_s: float = 10.0
    """A video track that decides for a subject alerted less than this many seconds ago is
    taken as the same sighting (a track broken by a missed detection): no second alert."""

    track_max_missed_frames: int = 8
    """A track ends when it has not been seen for this many frames."""

    track_min_iou: float = 0.2
    """Least box overlap for a detection to continue a track."""

    min_track_embeddings: int = 1
    """Descriptors a video track needs before it may alert. One: a person crossing a crowd
    may be seen well only once; the decision is strict enough on one good view, and later
    views are fused with it (walk-by calibration, README)."""

    second_opinion: bool = False
    """Ask a second network (dlib's ResNet) about tracks whose score falls short of the
    threshold by less than matcher.SECOND_OPINION_LIFT, and lift the score when it names
    the same subject (matcher.py, "Second opinion"). Needs a watchlist built with
    ``--second-opinion``; ``openlfr evaluate --second-opinion`` audits it. Off by default;
    on a node the released watchlist decides it (a platform watchlist created with a
    reference model), and the threshold gate holds it to an audit made the same way."""

    workers: int = 2
    """Worker processes for detection and description (0: all in the calling process)."""

    queue_frames: int = 8
    """Frames that may wait between decoding and detection (bounded, for back-pressure)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.min_face_px < 1:
            raise ValueError(f"min_face_px must be at least 1, got {self.min_face_px}")
        if self.detect_max_px < 64:
            raise ValueError(f"detect_max_px must be at least 64, got {self.detect_max_px}")
        if self.workers < 0:
            raise ValueError(f"workers must be 0 or more, got {self.workers}")
        if not 0.0 <= self.describe_less_below <= 1.0:
            raise ValueError(
                f"describe_less_below must be between 0 and 1, got {self.describe_less_below}")
        if self.min_track_embeddings < 1 or self.embed_every_frames < 1:
            raise ValueError("min_track_embeddings and embed_every_frames must be at least 1")
        if self.full_detection_every < 1:
            raise ValueError(
                f"full_detection_every must be at least 1, got {self.full_detection_every}")
        if self.full_detection_every_small < 1:
            raise ValueError("full_detection_every_small must be at least 1, got "
                             f"{self.full_detection_every_small}")
        if self.shed_when_behind < 1:
            raise ValueError(
                f"shed_when_behind must be at least 1, got {self.shed_when_behind}")
        if self.repeat_alert_s < 0:
            raise ValueError(f"repeat_alert_s must be 0 or more, got {self.repeat_alert_s}")
        if self.fuse_best < 1 or self.track_memory < self.fuse_best:
            raise ValueError("fuse_best must be at least 1 and at most track_memory")
