"""Where the model weights are: files installed by the `face_recognition_models` package.

Nothing is downloaded: if the package is missing the engine says how to install it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from openlfr.recognition.errors import ModelError

_INSTALL_HINT = "install it with: python3 -m pip install face_recognition_models"


@dataclass(frozen=True)
class ModelFiles:
    """Paths of the weight files the engine uses."""

    landmarks_5pt: Path
    descriptor_resnet: Path
    detector_mmod: Path


@cache
def model_files() -> ModelFiles:
    """Locate the weight files in site-packages, or fail with an actionable message."""
    try:
        import face_recognition_models as frm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(
            f"the face_recognition_models package is missing; {_INSTALL_HINT}"
        ) from exc
    files = ModelFiles(
        landmarks_5pt=Path(frm.pose_predictor_five_point_model_location()),
        descriptor_resnet=Path(frm.face_recognition_model_location()),
        detector_mmod=Path(frm.cnn_face_detector_model_location()),
    )
    for path in (files.landmarks_5pt, files.descriptor_resnet):
        if not path.is_file():
            raise ModelError(f"model file {path} is missing; reinstall face_recognition_models")
    return files


@cache
def descriptor_model_id() -> str:
    """A short id of the descriptor weights, stored in watchlists to refuse mixing models."""
    digest = hashlib.sha256(model_files().descriptor_resnet.read_bytes()).hexdigest()
    return f"dlib_face_recognition_resnet_model_v1:{digest[:16]}"
