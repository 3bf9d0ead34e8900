"""The node's frame source: the engine's own sources, plus the wall-clock time each frame
was read (an alert's ``occurred_at``) and, for demos and tests, replaying a file."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime

from openlfr.recognition import Frame, FrameSource, open_source

#: Frame times remembered for alerts (an alert's evidence is a recent frame of its track).
REMEMBERED_FRAMES = 20_000


class ClockedSource(FrameSource):
    """Wraps ``open_source(spec)``. Frame indices stay unique across replays, so an alert
    always finds the time its frame was read."""

    def __init__(self, spec: str, *, loop: bool = False, max_reconnects: int | None = 20) -> None:
        self._spec = spec
        self._max_reconnects = max_reconnects
        self._inner = open_source(spec, max_reconnects=max_reconnects)
        self.name = self._inner.name
        self.is_live = self._inner.is_live
        self.loop = loop and not self.is_live
        self.frame_count = None if self.loop else self._inner.frame_count
        self.passes = 0
        self._times: OrderedDict[int, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Frame]:
        index_offset, time_offset_s, unreadable = 0, 0.0, 0
        while True:
            count, last_s = 0, 0.0
            for frame in self._inner:
                index = index_offset + frame.index
                with self._lock:
                    self._times[index] = datetime.now(UTC)
                    while len(self._times) > REMEMBERED_FRAMES:
                        self._times.popitem(last=False)
                count, last_s = frame.index + 1, frame.timestamp_s
                yield Frame(index, time_offset_s + frame.timestamp_s, frame.image, frame.still)
            self.passes += 1
            unreadable += self._inner.unreadable
            self.unreadable = unreadable
            if not self.loop or count == 0:
                return
            index_offset += count
            time_offset_s += last_s + 1.0
            self._inner.close()
            self._inner = open_source(self._spec, max_reconnects=self._max_reconnects)

    def frame_time(self, index: int) -> datetime:
        """When frame ``index`` was read (now, if it is no longer remembered)."""
        with self._lock:
            return self._times.get(index) or datetime.now(UTC)

    def close(self) -> None:
        self._inner.close()
