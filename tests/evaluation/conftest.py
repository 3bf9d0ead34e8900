"""Synthetic face descriptors with known error rates, paths to the sample faces, and a
stand-in for the platform's equity-audit endpoint.

The geometry (exact, because the directions are orthonormal), for the default cosine
model's descriptors (512-D, unit length): identity j is enrolled at ``u_j``; each group
has a *twin* direction ``t_g``, enrolled as an external filler entry (someone never
searched for); extra filler entries get directions of their own. Every other image of
identity j is one of three kinds, drawn at random with per-group probabilities, and
completed to unit length along a random direction orthogonal to all of those:

* ``normal``: cosine 0.9 to ``u_j``, 0 to every other entry: a hit;
* ``hard``: cosine 0.3 to ``u_j``, 0 to every other entry: a hit only at low thresholds;
* ``lookalike``: cosine 0.6 to its group's twin, 0 to every entry including ``u_j``: as a
  mated search another entry (the twin) ranks first, a wrong alert; as a non-mated
  search, a false alert. Less alike than a normal image to its own, so a threshold
  between the two scores stops false alerts while normal images still hit.

A non-mated search of a normal or hard image (or of an enrolment image) is 0 against
every entry, so it never alerts. Each kind's best entry is the only non-zero similarity
of its search, so its decision score depends only on its cosine and the watchlist size:
``kind_scores`` asks the engine's own WatchlistIndex for it, and ``Window`` places
thresholds between the scores. In ``Window.known`` (between the hard and the lookalike
score): TPIR = share of normal images among mated searches, FPIR = share of lookalikes
among all images; in ``Window.fair`` (between the lookalike and the normal score) nobody
alerts falsely and normal images still hit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import openlfr
from openlfr.evaluation.dataset import Dataset, Sample
from openlfr.evaluation.describe import ImageDescription
from openlfr.recognition.matcher import WatchlistIndex
from openlfr.recognition.watchlist import EnrolledImage, Subject, Watchlist, model_family
from openlfr.samples import SAMPLE_FACES as SAMPLE

SAMPLE_IDENTITIES = SAMPLE / "identities"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"

MODEL_ID = "mobilefacenet_arcface_512:synthetic"
_, DIM = model_family(MODEL_ID)
#: Cosine of each kind of image to its best entry (own identity, or twin for a lookalike).
COSINE = {"normal": 0.9, "hard": 0.3, "lookalike": 0.6}
#: How far a swept threshold keeps from any kind's score (float32 rounding moves a
#: synthetic search's score by about 1e-6).
MARGIN = 1e-4


def kind_scores(watchlist_size: int) -> dict[str, float]:
    """The engine's decision score of each kind's best entry on a watchlist of this many
    orthonormal entries, every other similarity 0, as in the synthetic dataset; and
    ``nobody``: a face orthogonal to every entry."""
    assert watchlist_size + 1 < DIM
    basis = np.eye(DIM, dtype=np.float32)
    index = WatchlistIndex(Watchlist(MODEL_ID, [
        Subject(f"s{i}", [EnrolledImage(f"s{i}", "", basis[i])]) for i in range(watchlist_size)
    ]))
    probes = {kind: c * basis[0] + np.sqrt(1 - c * c) * basis[-1] for kind, c in COSINE.items()}
    probes["nobody"] = basis[-1]
    found = dict(zip(probes, index.identify(np.stack(list(probes.values()))), strict=True))
    for kind in COSINE:
        assert found[kind].subject_index == 0, found
    return {kind: found[kind].score for kind in probes}


@dataclass(frozen=True)
class Window:
    """Thresholds between the kinds' scores at one watchlist size (see the docstring)."""

    scores: dict[str, float]
    low: float
    """At or below the hard score: hard and normal images hit, lookalikes alert."""
    known: float
    """Above hard, at or below lookalike: TPIR = normal share, FPIR = lookalike share."""
    fair: float
    """Above lookalike, at or below normal: normal images hit, nobody alerts falsely."""
    high: float
    """Above every score: nobody alerts."""

    @classmethod
    def at(cls, watchlist_size: int) -> Window:
        s = kind_scores(watchlist_size)
        order = [s["nobody"], s["hard"], s["lookalike"], s["normal"], 1.0]
        gaps = list(zip(order, order[1:], strict=False))
        assert all(b - a > 4 * MARGIN for a, b in gaps), (
            f"the engine's scores no longer separate the synthetic kinds: {s}; "
            "adjust COSINE so that nobody < hard < lookalike < normal < 1")
        low, known, fair, high = ((a + b) / 2 for a, b in gaps)
        return cls(s, *(round(t, 6) for t in (low, known, fair, high)))

    @property
    def thresholds(self) -> list[float]:
        return [self.low, self.known, self.fair, self.high]

    def sweep(self, step: float = 0.02) -> list[float]:
        """A regular sweep over (0, 1) plus the window's thresholds, none of them within
        MARGIN of a kind's score (where float noise could decide)."""
        grid = [round(step * i, 6) for i in range(1, int(round(1 / step)))]
        return sorted({t for t in grid if all(abs(t - v) > MARGIN for v in self.scores.values())}
                      | set(self.thresholds))


@dataclass(frozen=True)
class GroupSpec:
    label: str
    identities: int
    lookalike: float
    """Probability that a non-enrolment image is a lookalike (a false alert)."""
    hard: float
    """Probability that a non-enrolment image is hard (a miss, but no false alert)."""


@dataclass
class Synthetic:
    dataset: Dataset
    descriptions: dict[Path, ImageDescription]
    images_per_identity: int
    kinds: dict[Path, str]
    filler: list[np.ndarray] = field(default_factory=list)
    """The groups' twins first (in group order), then the extra filler."""
    twins: int = 0

    @property
    def watchlist_size(self) -> int:
        """The largest watchlist: the smaller half of the identities, plus all the filler."""
        return len(self.dataset.identities) // 2 + len(self.filler)

    def true_fpir(self, spec: GroupSpec) -> float:
        """Expected FPIR in Window.known when the twins are on the watchlist: lookalikes
        among all images (the enrolment image, first, never alerts)."""
        return spec.lookalike * (self.images_per_identity - 1) / self.images_per_identity

    @staticmethod
    def true_tpir(spec: GroupSpec) -> float:
        return 1.0 - spec.lookalike - spec.hard


def make_synthetic(
    groups: list[GroupSpec], images_per_identity: int = 6, seed: int = 1, extra_filler: int = 0
) -> Synthetic:
    """A labelled dataset of synthetic descriptors and its filler (see the module docstring)."""
    rng = np.random.default_rng(seed)
    total = sum(g.identities for g in groups)
    entries = total + len(groups) + extra_filler
    free_dims = DIM - entries
    assert free_dims >= 16, f"orthonormal geometry needs fewer than {DIM - 15} entries"
    basis, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    directions = basis[:, :total].T
    twins = basis[:, total:total + len(groups)].T
    filler = [*twins, *basis[:, total + len(groups):entries].T]
    noise_basis = basis[:, entries:].T

    def toward(direction: np.ndarray, cosine: float) -> np.ndarray:
        w = rng.normal(size=free_dims) @ noise_basis
        return cosine * direction + np.sqrt(1 - cosine**2) * w / np.linalg.norm(w)

    samples, descriptions, kinds = [], {}, {}
    j = 0
    for g, spec in enumerate(groups):
        for _ in range(spec.identities):
            identity = f"{spec.label}-{j:03d}"
            for k in range(images_per_identity):
                if k == 0:
                    kind, vector = "enrol", directions[j]
                else:
                    kind = str(rng.choice(
                        ["lookalike", "hard", "normal"],
                        p=[spec.lookalike, spec.hard, 1 - spec.lookalike - spec.hard],
                    ))
                    target = twins[g] if kind == "lookalike" else directions[j]
                    vector = toward(target, COSINE[kind])
                path = Path(f"/synthetic/{identity}/{k}.jpg")
                samples.append(Sample(path, identity, {"group": spec.label}))
                descriptions[path] = ImageDescription(vector.astype(np.float32), "", 1, "x")
                kinds[path] = kind
            j += 1
    dataset = Dataset(root=Path("/synthetic"), kind="folders", samples=samples,
                      group_columns=["group"])
    return Synthetic(dataset, descriptions, images_per_identity, kinds,
                     [v.astype(np.float32) for v in filler], len(groups))


# --- a stand-in for the platform's equity-audit endpoint ------------------------------

GOOD_KEY = "olfr_test-key"


class FakePlatform(BaseHTTPRequestHandler):
    """A stand-in for the platform: records each request, answers like FastAPI."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append({"path": self.path, "key": self.headers.get("X-API-Key"),
                              "body": body})
        answer: dict[str, Any]
        if self.headers.get("X-API-Key") != GOOD_KEY:
            status, answer = 401, {"detail": "the API key is unknown or revoked"}
        elif not self.path.startswith("/api/technology/3/"):
            status, answer = 404, {"detail": "technology register entry 9 not found"}
        else:
            status, answer = 201, {"id": 12, **body}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def platform_url() -> Iterator[str]:
    FakePlatform.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePlatform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
