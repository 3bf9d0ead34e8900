"""Synthetic face descriptors with known error rates, paths to the sample faces, and a
stand-in for the platform's equity-audit endpoint.

The geometry (exact, because the directions are orthonormal): identity j is enrolled at
``R * u_j``. Its other images are one of three kinds, drawn at random with per-group
probabilities:

* ``normal``: ``R*u_j + 0.05*w``: own score 0.95; against another identity 0.291.
* ``hard``: ``R*u_j + 0.70*w``: own score 0.30, others 0.005: a miss at t > 0.30.
* ``lookalike``: ``-0.1*u_j + 0.05*w``: own score 0.398, every other identity 0.488: a
  miss as a mated probe (another identity ranks first) and, as a non-mated probe, a
  false alert at any threshold up to 0.488.

So for thresholds in (0.30, 0.48]: TPIR = share of normal images among non-enrolment
images, FPIR = share of lookalikes among all images; above 0.49 nobody alerts falsely;
below 0.29 every non-mated search alerts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import openlfr
from openlfr.evaluation.dataset import Dataset, Sample
from openlfr.evaluation.describe import ImageDescription

SAMPLE = Path(openlfr.__file__).parent / "sample_data" / "faces"
SAMPLE_IDENTITIES = SAMPLE / "identities"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"

R = 0.5
LOOKALIKE_SCORE = 1 - float(np.sqrt(R**2 + 0.1**2 + 0.05**2))  # 0.488
NORMAL_NONMATED_SCORE = 1 - float(np.sqrt(2 * R**2 + 0.05**2))  # 0.291


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

    def true_fpir(self, spec: GroupSpec) -> float:
        """Expected FPIR in (0.30, 0.48]: lookalikes among all images (the enrolment
        image, first, is always normal)."""
        return spec.lookalike * (self.images_per_identity - 1) / self.images_per_identity

    @staticmethod
    def true_tpir(spec: GroupSpec) -> float:
        return 1.0 - spec.lookalike - spec.hard


def make_synthetic(
    groups: list[GroupSpec], images_per_identity: int = 6, seed: int = 1
) -> Synthetic:
    """A labelled dataset of synthetic descriptors (see the module docstring)."""
    rng = np.random.default_rng(seed)
    total = sum(g.identities for g in groups)
    free_dims = 128 - total
    assert free_dims >= 4, "orthonormal geometry needs fewer than 125 identities"
    basis, _ = np.linalg.qr(rng.normal(size=(128, 128)))
    directions, noise_basis = basis[:, :total].T, basis[:, total:].T

    def noise() -> np.ndarray:
        w = rng.normal(size=free_dims) @ noise_basis
        return w / np.linalg.norm(w)

    samples, descriptions, kinds = [], {}, {}
    j = 0
    for spec in groups:
        for _ in range(spec.identities):
            identity = f"{spec.label}-{j:03d}"
            u = directions[j]
            for k in range(images_per_identity):
                if k == 0:
                    kind, vector = "enrol", R * u
                else:
                    kind = rng.choice(
                        ["lookalike", "hard", "normal"],
                        p=[spec.lookalike, spec.hard, 1 - spec.lookalike - spec.hard],
                    )
                    vector = {
                        "normal": R * u + 0.05 * noise(),
                        "hard": R * u + 0.70 * noise(),
                        "lookalike": -0.1 * u + 0.05 * noise(),
                    }[str(kind)]
                path = Path(f"/synthetic/{identity}/{k}.jpg")
                samples.append(Sample(path, identity, {"group": spec.label}))
                descriptions[path] = ImageDescription(vector.astype(np.float32), "", 1, "x")
                kinds[path] = str(kind)
            j += 1
    dataset = Dataset(root=Path("/synthetic"), kind="folders", samples=samples,
                      group_columns=["group"])
    return Synthetic(dataset, descriptions, images_per_identity, kinds)


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
