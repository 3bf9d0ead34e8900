"""SIGTERM as Ctrl-C, for the long-running commands (the node, the demo server).

A process started in the background by a non-interactive shell inherits SIGINT ignored, so
neither Ctrl-C nor ``_thread.interrupt_main()`` reaches it; SIGTERM, handled here, still
does. ``interrupt_main`` simulates the signal whose handler this installs, so a watchdog
thread can stop a main thread that is stuck, whatever became of SIGINT.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread (outside the main
    thread, where handlers cannot be set, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupt_main() -> None:
    """Raise KeyboardInterrupt in the main thread, as SIGTERM would (inside
    ``sigterm_as_interrupt``)."""
    _thread.interrupt_main(signal.SIGTERM)
