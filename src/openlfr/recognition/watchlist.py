"""Watchlist files: subjects and their face descriptors, never their photos.

File format (JSON, UTF-8), version 2::

    {
      "format": "openlfr-watchlist",
      "version": 2,
      "created_at": "2026-11-23T10:00:00+00:00",      # ISO 8601, UTC
      "descriptor_model": "mobilefacenet_w600k_512:<sha256 prefix>",
      "descriptor_dim": 512,
      "metric": "cosine",                             # or "l2" (dlib's descriptors)
      "reference_model": "dlib_face_recognition_resnet_model_v1:<sha256 prefix>",
                                                      # optional: the second opinion's
      "subjects": [
        {"ref": "subject-reference",                  # folder name when built from photos
         "images": [{"name": "photo.jpg",              # file name within the subject folder
                     "sha256": "<hex of the photo>",
                     "descriptor": [512 floats],
                     "reference": [128 floats]}]}     # optional (with reference_model)
      ]
    }

Version 1 files (dlib's 128-D descriptors, no "metric") are still read. A reader refuses
another format, a newer version, a descriptor of the wrong length, a different descriptor
model (its descriptors would not be comparable) and a watchlist with no subjects.

``reference_model`` and each image's ``reference`` are the second opinion's descriptors
(``watchlist build --second-opinion``; matcher.py, "Second opinion"): another network's
descriptor of the same photo, asked only about faces the engine is unsure of. An image
whose photo that network could not describe has none. Readers that do not know them
ignore them.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from openlfr.recognition.errors import WatchlistError

FORMAT_NAME = "openlfr-watchlist"
FORMAT_VERSION = 2

# Descriptor models by id prefix: (metric, descriptor length). Watchlists are versioned by
# model: descriptors of two models are never compared.
MODEL_FAMILIES = {
    "mobilefacenet_w600k_512": ("cosine", 512),
    "mobilefacenet_arcface_512": ("cosine", 512),
    "dlib_face_recognition_resnet_model_v1": ("l2", 128),
}


def model_family(model_id: str) -> tuple[str, int]:
    """(metric, descriptor length) of a descriptor model id; WatchlistError if unknown."""
    family = MODEL_FAMILIES.get(model_id.split(":", 1)[0])
    if family is None:
        known = ", ".join(MODEL_FAMILIES)
        raise WatchlistError(f"unknown descriptor model {model_id!r} (this openlfr knows {known})")
    return family


@dataclass
class EnrolledImage:
    name: str
    sha256: str
    descriptor: np.ndarray
    reference: np.ndarray | None = None
    """The second opinion's descriptor of the photo (the watchlist's reference_model)."""


@dataclass
class Subject:
    ref: str
    images: list[EnrolledImage] = field(default_factory=list)

    @property
    def descriptors(self) -> np.ndarray:
        return np.stack([i.descriptor for i in self.images]).astype(np.float32)


@dataclass
class Watchlist:
    """Subjects with at least one enrolled descriptor each."""

    descriptor_model: str
    subjects: list[Subject]
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    reference_model: str | None = None
    """The second opinion's descriptor model, when the images carry its descriptors."""

    @property
    def image_count(self) -> int:
        return sum(len(s.images) for s in self.subjects)

    @property
    def metric(self) -> str:
        return model_family(self.descriptor_model)[0]

    @property
    def descriptor_dim(self) -> int:
        return model_family(self.descriptor_model)[1]

    def to_json(self) -> dict[str, Any]:
        def image(i: EnrolledImage) -> dict[str, Any]:
            out: dict[str, Any] = {"name": i.name, "sha256": i.sha256,
                                   "descriptor": [round(float(x), 7) for x in i.descriptor]}
            if self.reference_model is not None and i.reference is not None:
                out["reference"] = [round(float(x), 7) for x in i.reference]
            return out

        data: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "created_at": self.created_at,
            "descriptor_model": self.descriptor_model,
            "descriptor_dim": self.descriptor_dim,
            "metric": self.metric,
        }
        if self.reference_model is not None:
            data["reference_model"] = self.reference_model
        data["subjects"] = [{"ref": s.ref, "images": [image(i) for i in s.images]}
                            for s in self.subjects]
        return data

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees half a file, a failure leaves none."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def from_json(cls, data: Any, source: str = "watchlist") -> Watchlist:
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise WatchlistError(f"{source}: not an openlfr watchlist file")
        version = data.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            raise WatchlistError(
                f"{source}: watchlist format version {version!r} is not supported "
                f"(this openlfr reads version {FORMAT_VERSION})"
            )
        try:
            model = str(data["descriptor_model"])
            dim = model_family(model)[1]
            reference_model = data.get("reference_model")
            reference_dim = 0
            if reference_model is not None:
                reference_model = str(reference_model)
                reference_dim = model_family(reference_model)[1]
            raw_subjects = data["subjects"]
            if not isinstance(raw_subjects, list):
                raise TypeError("subjects is not a list")
            subjects = [
                Subject(
                    ref=str(s["ref"]),
                    images=[
                        EnrolledImage(
                            str(i["name"]),
                            str(i["sha256"]),
                            _descriptor(i["descriptor"], source, s["ref"], dim),
                            None if not reference_dim or i.get("reference") is None
                            else _descriptor(i["reference"], source, s["ref"], reference_dim),
                        )
                        for i in s["images"]
                    ],
                )
                for s in raw_subjects
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise WatchlistError(
                f"{source}: malformed watchlist ({exc!r} missing or wrong)"
            ) from exc
        subjects = [s for s in subjects if s.images]
        if not subjects:
            raise WatchlistError(
                f"{source}: the watchlist has no subjects; "
                "build one with: openlfr watchlist build IMAGES_DIR --out FILE"
            )
        return cls(descriptor_model=model, subjects=subjects,
                   created_at=str(data.get("created_at", "")), reference_model=reference_model)

    @classmethod
    def load(cls, path: Path, expected_model: str | None = None) -> Watchlist:
        """Read and check a watchlist file; `expected_model` refuses foreign descriptors."""
        path = Path(path)
        if not path.is_file():
            raise WatchlistError(f"{path}: no such watchlist file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise WatchlistError(f"{path}: not a readable watchlist file ({exc})") from exc
        watchlist = cls.from_json(data, str(path))
        if expected_model is not None and watchlist.descriptor_model != expected_model:
            raise WatchlistError(
                f"{path}: built with descriptor model {watchlist.descriptor_model}, but the engine "
                f"uses {expected_model}; rebuild the watchlist"
            )
        return watchlist


def _descriptor(values: Any, source: str, ref: Any, dim: int) -> np.ndarray:
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise WatchlistError(f"{source}: subject {ref!r} has a descriptor that is not numbers")
    vector = np.asarray(values, dtype=np.float32)
    if vector.shape != (dim,) or not np.all(np.isfinite(vector)):
        raise WatchlistError(
            f"{source}: subject {ref!r} has a descriptor that is not {dim} finite numbers"
        )
    return vector
