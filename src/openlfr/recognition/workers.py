"""Workers for the CPU-heavy stages: threads where the networks leave the GIL, else processes.

ONNX Runtime and OpenCV release Python's GIL while they compute, so with the default
networks worker threads use every core and share one copy of them, and frames never
cross a process boundary. dlib's own detectors and networks hold the GIL: with those the
work runs in worker processes, each with its own copy of the networks (inherited by fork
when possible, so no reload).
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from openlfr.recognition.analyzer import FaceAnalyzer, FaceSearch
from openlfr.recognition.backends import load_backends
from openlfr.recognition.faces import Box, RGBImage

T = TypeVar("T")

_analyzer: FaceAnalyzer | None = None


def _names(analyzer: FaceAnalyzer) -> tuple[str, str, str]:
    b = analyzer.backends
    return b.name, b.detector_name, b.descriptor_name


def _init_worker(backend_name: str, detector_name: str, descriptor_name: str) -> None:
    global _analyzer
    if _analyzer is None or _names(_analyzer) != (backend_name, detector_name, descriptor_name):
        _analyzer = FaceAnalyzer(load_backends(backend_name, 1, detector_name, descriptor_name))


def worker_initializer(analyzer: FaceAnalyzer) -> tuple[Callable[..., None], tuple[str, ...]]:
    """(initializer, its arguments) for a pool of worker processes, on this machine or a
    cluster's, so that their tasks see a copy of `analyzer` (``process_analyzer``)."""
    return _init_worker, _names(analyzer)


def process_analyzer() -> FaceAnalyzer:
    """The analyzer of the current process (a worker, or the caller with workers=0)."""
    if _analyzer is None:  # pragma: no cover - guarded by make_executor
        raise RuntimeError("worker used before initialisation")
    return _analyzer


def locate_task(image: RGBImage, min_face_px: int, max_px: int,
                large_faces: bool = False) -> FaceSearch:
    return process_analyzer().locate_faces(image, min_face_px=min_face_px, max_px=max_px,
                                           large_faces=large_faces)


def locate_near_task(
    image: RGBImage, regions: list[Box], min_face_px: int, max_px: int
) -> FaceSearch:
    return process_analyzer().locate_faces_near(
        image, regions, min_face_px=min_face_px, max_px=max_px
    )


Described = tuple[list[RGBImage], list[float], np.ndarray, list[np.ndarray | None]]
"""(chips, pose factors, descriptors, second opinions) of faces, in order."""


def describe_faces_task(image: RGBImage, boxes: list[Box],
                        second_opinion: list[bool] | None = None) -> Described:
    """Describe the faces in `boxes`; those marked in `second_opinion` by the second
    network too (matcher.py)."""
    analyzer = process_analyzer()
    chips, poses, descriptors = analyzer.describe_faces(image, boxes)
    asked = second_opinion or [False] * len(boxes)
    return chips, poses, descriptors, analyzer.second_opinions(image, boxes, asked)


def timed(task: Callable[..., T], *args: Any) -> tuple[T, float]:
    """Runs in a worker: ``task(*args)`` and the CPU seconds its thread spent on it (the
    networks run on the calling thread: one thread a worker)."""
    started = time.thread_time()
    result = task(*args)
    return result, time.thread_time() - started


class InlineExecutor(Executor):
    """Runs each task at once in the calling process (workers=0): simple and debuggable."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


def make_executor(workers: int, analyzer: FaceAnalyzer) -> Executor:
    """An executor whose tasks see `analyzer` (workers=0, or threads when its networks leave
    the GIL) or a copy of it in each worker process."""
    global _analyzer
    _analyzer = analyzer
    if workers == 0:
        return InlineExecutor()
    if analyzer.backends.gil_free:
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openlfr-worker")
    # fork shares the loaded networks copy-on-write, but is unsafe once threads run.
    use_fork = sys.platform == "linux" and threading.active_count() == 1
    context = multiprocessing.get_context("fork" if use_fork else "spawn")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=_names(analyzer),
    )
