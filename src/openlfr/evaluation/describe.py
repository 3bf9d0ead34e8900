"""Describing every image of an evaluation once, on every core (or a Ray cluster's).

Each image gives the descriptor of its largest face (the photo's subject; people in
the background are smaller). Descriptors live in memory for the run only: no face
image is written anywhere, and descriptors are written only to a cache file the user
asks for. On a cluster the photos go to its workers as bytes (they need not share a
file system); the results are the same as on this machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openlfr.evaluation.errors import DatasetError
from openlfr.recognition.analyzer import FaceAnalyzer
from openlfr.recognition.backends import DLIB_DESCRIPTOR_DIM
from openlfr.recognition.enrolment import ENROL_MAX_PX, ENROL_MIN_FACE_PX
from openlfr.recognition.images import ImageError, decode_image
from openlfr.recognition.workers import make_executor, process_analyzer, worker_initializer

NO_FACE = "no face found"


@dataclass(frozen=True)
class ImageDescription:
    """What describing one image gave: a descriptor, or the reason there is none."""

    descriptor: np.ndarray | None
    problem: str = ""
    """'' when described; 'no face found', 'unreadable: ...' otherwise."""
    faces: int = 0
    sha256: str = ""
    reference: np.ndarray | None = None
    """The second opinion's descriptor of the same face, when asked (matcher.py)."""

    @property
    def unreadable(self) -> bool:
        return self.problem.startswith("unreadable")


def _describe_one(path: Path, second_opinion: bool = False) -> ImageDescription:
    """Runs in a worker: read, find the faces, describe the largest."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ImageDescription(None, f"unreadable: {exc.strerror or exc}")
    return _describe_data(path.name, data, second_opinion)


def _describe_sent(item: tuple[str, bytes | str, bool]) -> ImageDescription:
    """Runs on a cluster's worker: the photo's name and bytes (or why it was unreadable),
    and whether the second opinion is asked too."""
    name, data, second_opinion = item
    if isinstance(data, str):
        return ImageDescription(None, data)
    return _describe_data(name, data, second_opinion)


def _read_for_sending(path: Path, second_opinion: bool) -> tuple[str, bytes | str, bool]:
    try:
        return path.name, path.read_bytes(), second_opinion
    except OSError as exc:
        return path.name, f"unreadable: {exc.strerror or exc}", second_opinion


def _describe_data(name: str, data: bytes, second_opinion: bool = False) -> ImageDescription:
    analyzer = process_analyzer()
    try:
        image = decode_image(data, name)
    except ImageError as exc:
        text = str(exc)
        return ImageDescription(None, "unreadable: " + (text.split(": ", 1)[-1]))
    digest = hashlib.sha256(data).hexdigest()
    search = analyzer.find_faces(image, min_face_px=ENROL_MIN_FACE_PX, max_px=ENROL_MAX_PX,
                                 large_faces=True)
    if not search.faces:
        problem = NO_FACE
        if search.too_small:
            problem += f" (faces under {ENROL_MIN_FACE_PX} px wide are not used)"
        return ImageDescription(None, problem, 0, digest)
    largest = max(search.faces, key=lambda f: f.box.area)
    descriptor = analyzer.describe([largest.chip])[0].astype(np.float32)
    [reference] = analyzer.second_opinions(image, [largest.box], [second_opinion])
    return ImageDescription(descriptor, "", len(search.faces), digest, reference)


def describe_images(
    paths: Sequence[Path],
    analyzer: FaceAnalyzer,
    *,
    workers: int = 2,
    on_image: Callable[[Path, ImageDescription], None] | None = None,
    cache: dict[Path, ImageDescription] | None = None,
    on_cluster: bool = False,
    second_opinion: bool = False,
) -> dict[Path, ImageDescription]:
    """Describe each distinct path once (in ``workers`` processes; 0 runs inline; with
    ``on_cluster``, in a process per core of the Ray cluster this process joined); with
    ``second_opinion``, by the second network too (matcher.py).

    ``cache`` holds descriptions from an earlier pass (e.g. a cache file): those paths
    are not described again. ``on_image`` is called once per path, in input order.
    """
    unique = list(dict.fromkeys(Path(p) for p in paths))
    known = dict(cache or {})
    todo = [p for p in unique if p not in known]
    results: dict[Path, ImageDescription] = {}
    for path in unique:
        if path in known:
            results[path] = known[path]
            if on_image:
                on_image(path, known[path])
    if todo and on_cluster:
        from ray.util.multiprocessing import Pool

        # Ray's Pool: multiprocessing's interface, the cluster's cores. Each worker loads
        # the networks once (as a local worker process does).
        initializer, initargs = worker_initializer(analyzer)
        with Pool(initializer=initializer, initargs=initargs) as pool:
            sent = (_read_for_sending(p, second_opinion) for p in todo)
            for path, description in zip(todo, pool.imap(_describe_sent, sent, chunksize=8),
                                         strict=True):
                results[path] = description
                if on_image:
                    on_image(path, description)
    elif todo:
        with make_executor(min(max(workers, 0), len(todo)), analyzer) as executor:
            # chunks of a few images keep both cores busy without a long tail.
            for path, description in zip(
                todo, executor.map(_describe_one, todo, [second_opinion] * len(todo),
                                   chunksize=2), strict=True
            ):
                results[path] = description
                if on_image:
                    on_image(path, description)
    return {p: results[p] for p in unique}


# --- optional descriptor cache (off unless the user asks) ----------------------------

CACHE_FORMAT = "openlfr-eval-cache-v1"


def load_cache(path: Path, model_id: str) -> dict[Path, ImageDescription]:
    """Descriptions saved by save_cache, for files whose content has not changed.

    A cache from another descriptor model is refused (its descriptors are not
    comparable); a missing cache file is an empty cache.
    """
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != CACHE_FORMAT:
                raise DatasetError(f"{path}: not an openlfr evaluation cache")
            if str(data["model_id"]) != model_id:
                raise DatasetError(
                    f"{path}: descriptors from model {data['model_id']}, not {model_id}; "
                    "delete the cache file or give another --cache path"
                )
            names = [str(x) for x in data["paths"]]
            digests = [str(x) for x in data["sha256"]]
            problems = [str(x) for x in data["problems"]]
            faces = data["faces"].tolist()
            descriptors = data["descriptors"]
            references = data.get("references")
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable cache file ({exc}); delete it") from exc
    cache = {}
    for i, name in enumerate(names):
        image = Path(name)
        try:
            current = hashlib.sha256(image.read_bytes()).hexdigest()
        except OSError:
            continue
        if current != digests[i] or not digests[i]:
            continue  # the file changed (or was unreadable before): describe it again
        descriptor = descriptors[i] if not problems[i] else None
        reference = references[i] if references is not None and not problems[i] else None
        cache[image] = ImageDescription(descriptor, problems[i], int(faces[i]), digests[i],
                                        reference)
    return cache


def save_cache(path: Path, model_id: str, descriptions: dict[Path, ImageDescription]) -> None:
    """Write descriptors (never images) so a later run on the same files is quick."""
    kept = [(p, d) for p, d in descriptions.items() if d.sha256]
    dim = next((len(d.descriptor) for _, d in kept if d.descriptor is not None), 0)
    matrix = np.zeros((len(kept), dim), dtype=np.float32)
    for i, (_, d) in enumerate(kept):
        if d.descriptor is not None:
            matrix[i] = d.descriptor
    extra: dict[str, Any] = {}
    if any(d.reference is not None for _, d in kept):
        # The second opinion's descriptors (a cache made with --second-opinion: its
        # model_id names both models, so a plain run never reads it).
        references = np.full((len(kept), DLIB_DESCRIPTOR_DIM), np.nan, dtype=np.float32)
        for i, (_, d) in enumerate(kept):
            if d.reference is not None:
                references[i] = d.reference
        extra["references"] = references
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(
            handle,
            format=np.array(CACHE_FORMAT),
            model_id=np.array(model_id),
            paths=np.array([str(p) for p, _ in kept], dtype=str),
            sha256=np.array([d.sha256 for _, d in kept], dtype=str),
            problems=np.array([d.problem for _, d in kept], dtype=str),
            faces=np.array([d.faces for _, d in kept], dtype=np.int32),
            descriptors=matrix,
            **extra,
        )
