"""Engine settings with their defaults. Plain data: the CLI and the platform fill it in."""

from __future__ import annotations

from dataclasses import dataclass

# Default match threshold on the similarity score (1 - L2 distance; see matcher.py).
# Calibrated for 1:N identification, not 1:1 pairs (benchmarks/calibrate_threshold.py on
# ../shared/data/faces, 64 photos of 19 identities): the highest score any photo got
# against a watchlist of everyone else was 0.421, so 0.5 leaves a 0.08 margin (FPIR 0/64)
# while 62 of 63 mated searches still hit (TPIR 0.984). dlib's own 1:1 rule would be 0.4.
# A set this small cannot show the false-alert rate of a 10,000-entry watchlist: an
# equity audit on larger data should set the deployed threshold.
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class EngineConfig:
    """How the engine looks at frames. Every field has a safe default."""

    threshold: float = DEFAULT_THRESHOLD
    """Similarity score (0..1) at or above which a track raises an alert."""

    min_face_px: int = 64
    """Faces narrower than this (original-frame pixels) are skipped and counted. The detector
    runs at the scale that lets it see faces this small (its window is 80 px), so smaller
    values find smaller faces and cost time: detection cost grows with the scale squared."""

    detect_max_px: int = 1280
    """Cap on the long side of the image the detector sees: large frames are detected at a
    reduced scale, so faces narrower than 80 px at that scale are not found."""

    embed_every_frames: int = 10
    """A live track is described again at least this often (in frames)."""

    better_face_ratio: float = 1.5
    """A track is described again when its face quality grows by this factor."""

    track_max_missed_frames: int = 8
    """A track ends when it has not been seen for this many frames."""

    track_min_iou: float = 0.2
    """Least box overlap for a detection to continue a track."""

    min_track_embeddings: int = 2
    """Descriptors a video track needs before it may alert (a decision over several frames)."""

    track_window: int = 4
    """A track's score is the mean of its last this-many scores for a subject."""

    workers: int = 2
    """Worker processes for detection and description (0: all in the calling process)."""

    queue_frames: int = 8
    """Frames that may wait between decoding and detection (bounded, for back-pressure)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.detect_max_px < 64:
            raise ValueError(f"detect_max_px must be at least 64, got {self.detect_max_px}")
        if self.workers < 0:
            raise ValueError(f"workers must be 0 or more, got {self.workers}")
        if self.min_track_embeddings < 1 or self.embed_every_frames < 1:
            raise ValueError("min_track_embeddings and embed_every_frames must be at least 1")
