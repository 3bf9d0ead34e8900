"""The fleet's shared describer keeps faces out of Ray's object store both ways: each chip
is its own argument, and a call carries few enough chips that its answer (the
descriptors) is passed inline too, however crowded the frame (a 60-face frame at 512-D
returned 120 KB through the object store, which can spill to disk)."""

from __future__ import annotations

import numpy as np
import pytest

from openlfr.fleet.describers import (
    INLINE_SHARE,
    RAY_INLINE_BYTES,
    DescriberInfo,
    SharedDescriber,
    chips_per_call,
)


class _Remote:
    def __init__(self, calls: list[int], dim: int) -> None:
        self.calls, self.dim = calls, dim

    def remote(self, *chips: np.ndarray) -> np.ndarray:
        self.calls.append(len(chips))
        # Each chip's descriptor: its first pixel, so the order can be checked.
        return np.array([[float(c[0, 0, 0])] * self.dim for c in chips], dtype=np.float32)


class _Actor:
    def __init__(self, calls: list[int], dim: int) -> None:
        self.describe = _Remote(calls, dim)


@pytest.mark.parametrize("dim", [512, 128])
def test_a_crowd_frame_is_described_in_calls_whose_answers_stay_inline(
        dim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "get", lambda refs: list(refs))
    calls: list[int] = []
    describer = SharedDescriber([_Actor(calls, dim), _Actor(calls, dim)],
                                DescriberInfo("m", "cosine", dim))
    chips = [np.full((112, 112, 3), i % 250, dtype=np.uint8) for i in range(300)]
    out = describer.describe(chips)
    assert out.shape == (300, dim)
    assert [float(v) for v in out[:, 0]] == [float(i % 250) for i in range(300)]
    step = chips_per_call(dim)
    assert max(calls) == step and sum(calls) == 300
    assert step * dim * 4 <= INLINE_SHARE * RAY_INLINE_BYTES < (step + 1) * dim * 4
    assert describer.describe([]).shape == (0, dim)
