"""SIGTERM as Ctrl-C, for the long-running commands (the node, the demo server).

A process started in the background by a non-interactive shell inherits SIGINT ignored, so
neither Ctrl-C nor ``_thread.interrupt_main()`` reaches it; SIGTERM, handled here, still
does. ``interrupt_main`` simulates the signal whose handler this installs, so a watchdog
thread can stop a main thread that is stuck, whatever became of SIGINT.

An exception raised by a signal handler lands between any two bytecodes of the main thread,
also between taking a lock and the ``try`` that releases it (inside ``queue.Queue.get``, an
executor's ``submit``); the cleanup that then takes the same lock waits forever. So a
command that can stop at a safe point passes ``ask_to_stop``: the first signal only asks
(the command stops at its next safe point), and only a signal that finds a stop already
asked (a second Ctrl-C, or a watchdog's ``interrupt_main``) raises KeyboardInterrupt.

A KeyboardInterrupt that lands while the main thread waits in ``Thread.join`` (Python
3.11-3.12) can leave a thread that still runs marked as stopped: ``is_alive`` is then False
and later joins return at once, so the process tears down under it and may crash on exit.
``Background`` runs a thread whose end is an Event, which an interrupt cannot corrupt.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


@contextlib.contextmanager
def sigterm_as_interrupt(ask_to_stop: Callable[[], bool] | None = None) -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread (outside the main
    thread, where handlers cannot be set, nothing changes).

    With ``ask_to_stop``, SIGTERM and Ctrl-C (unless SIGINT is ignored) first call it; when
    it returns True the signal was taken as a request to stop and nothing is raised."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if ask_to_stop is not None and ask_to_stop():
            return
        raise KeyboardInterrupt

    handled = [signal.SIGTERM]
    if ask_to_stop is not None and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        handled.append(signal.SIGINT)
    previous = {signum: signal.signal(signum, handle) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Background:
    """``target`` on a daemon thread, with a wait for its end that Ctrl-C cannot corrupt
    (``Thread.join`` interrupted can mark a running thread as stopped; see above)."""

    def __init__(self, target: Callable[[], object], name: str) -> None:
        self._done = threading.Event()

        def run() -> None:
            try:
                target()
            finally:
                self._done.set()

        self._thread = threading.Thread(target=run, name=name, daemon=True)

    def start(self) -> Background:
        self._thread.start()
        return self

    def running(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for ``target`` to return; whether it has. An interrupt leaves it waitable."""
        return self._done.wait(timeout)


def interrupt_main() -> None:
    """Raise KeyboardInterrupt in the main thread, as SIGTERM would (inside
    ``sigterm_as_interrupt``, after a stop was asked)."""
    _thread.interrupt_main(signal.SIGTERM)
