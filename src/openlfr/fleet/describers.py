"""Describer actors: the descriptor network, shared by every camera of the fleet.

A camera's pipeline detects, tracks and aligns its faces itself and sends the aligned chips
to a describer actor. The actor gathers what cameras send for a couple of milliseconds and
describes it in one batch: one network and one core serve every camera (for the default
network a batch is not cheaper per face on one core; see the fleet benchmark).

What the cameras send is never stored: each chip travels as its own task argument, under
Ray's inline limit (100 KB; a chip is 37-68 KB), so it goes over the wire inside the call
and never through the object store, which could spill it to disk. The answer comes back
the same way: a call carries at most ``chips_per_call`` chips, so its descriptors (4 bytes
a dimension a face) stay under the limit too (a crowd frame with 60 faces at 512-D would
otherwise return 120 KB through the object store).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from openlfr.recognition.backends import load_describer
from openlfr.recognition.faces import RGBImage

#: How long a describer waits for more chips before describing what it has.
GATHER_S = 0.002
#: The most chips in one batch.
MAX_BATCH = 64
#: Ray's limit for values passed inline (arguments and answers), and the share of it an
#: answer may use (the rest is Ray's own framing).
RAY_INLINE_BYTES = 100 * 1024
INLINE_SHARE = 0.9


def chips_per_call(dim: int) -> int:
    """The most chips one call may describe so that its answer (``dim`` float32 values a
    face) is passed inline, never through the object store."""
    return max(1, int(INLINE_SHARE * RAY_INLINE_BYTES) // (dim * 4))


@dataclass(frozen=True)
class DescriberInfo:
    model_id: str
    metric: str
    dim: int


class DescriberActor:
    """One descriptor network (one core), describing what cameras send in batches. Runs as
    an asyncio Ray actor: calls wait together while a batch is computed."""

    def __init__(self, backend: str, descriptor: str, gather_s: float = GATHER_S,
                 max_batch: int = MAX_BATCH) -> None:
        self._describer = load_describer(backend, descriptor, threads=1)
        self._gather_s, self._max_batch = gather_s, max_batch
        self._waiting: list[tuple[Sequence[RGBImage], asyncio.Future[np.ndarray]]] = []
        self._busy = False
        self.batch_sizes: Counter[int] = Counter()

    def info(self) -> DescriberInfo:
        d = self._describer
        return DescriberInfo(model_id=d.model_id, metric=d.metric, dim=d.dim)

    def stats(self) -> dict[int, int]:
        """How many batches of each size this actor described."""
        return dict(self.batch_sizes)

    async def describe(self, *chips: RGBImage) -> np.ndarray:
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((chips, future))
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                await asyncio.sleep(self._gather_s)
                batch: list[tuple[Sequence[RGBImage], asyncio.Future[np.ndarray]]] = []
                size = 0
                while self._waiting and (not batch or
                                         size + len(self._waiting[0][0]) <= self._max_batch):
                    item = self._waiting.pop(0)
                    batch.append(item)
                    size += len(item[0])
                chips = [chip for sent, _ in batch for chip in sent]
                try:
                    descriptors = await loop.run_in_executor(None, self._describer.describe,
                                                             chips)
                except Exception as exc:  # each caller gets the error
                    for _, future in batch:
                        future.set_exception(exc)
                    continue
                finally:
                    del chips
                self.batch_sizes[size] += 1
                start = 0
                for sent, future in batch:
                    future.set_result(descriptors[start:start + len(sent)])
                    start += len(sent)
        finally:
            self._busy = False


class SharedDescriber:
    """What a camera's analyzer uses as its describer: the fleet's describer actors, in
    turn. Blocks its caller (one of the camera's worker threads) until the batch returns."""

    def __init__(self, actors: Sequence[Any], info: DescriberInfo) -> None:
        if not actors:
            raise ValueError("a shared describer needs at least one describer actor")
        self.model_id, self.metric, self.dim = info.model_id, info.metric, info.dim
        self._turn = itertools.cycle(actors)
        self._lock = threading.Lock()

    def describe(self, chips: Sequence[RGBImage]) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.dim), dtype=np.float32)
        import ray

        step = chips_per_call(self.dim)
        refs = []
        for start in range(0, len(chips), step):
            with self._lock:
                actor = next(self._turn)
            # One argument per chip, and few enough chips that the answer is small: both
            # stay under Ray's inline limit (see the module).
            refs.append(actor.describe.remote(
                *[np.ascontiguousarray(c) for c in chips[start:start + step]]))
        return np.concatenate([np.asarray(r, dtype=np.float32).reshape(-1, self.dim)
                               for r in ray.get(refs)])
