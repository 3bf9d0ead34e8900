"""A cache of what the public is shown: pages, feeds and open data, as rendered from the
public read model, kept until anything the public could see may have changed.

Every change to what the public sees is a use case, and every use case appends an audit
event in its transaction (``audit.append_event``): the audit log's last sequence number is
therefore the version of everything published. A cached answer is served while the version
it was built at is still the database's, so an answer published, a deployment authorised or
an alert counted shows on the very next request, in this server process or any other on the
same database. What the public sees also depends on the time (upcoming becomes past, an
answer becomes overdue): the version includes the time, in steps of ``time_step_s``. When
only the step has moved on, by one, the previous answer is still served while one request
builds the new one (``just_aged``): a busy page then never makes its readers wait for a
rebuild that is due to the clock alone.

Checking the version is one indexed read of one row; building a deployment's page is
dozens. The cache holds at most ``max_entries`` answers (least recently used dropped) of at
most ``max_body_bytes`` each and ``max_total_bytes`` in all.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from openlfr.services.platform import Platform, utcnow
from openlfr.storage import models as m

#: Version of the public read model: (audit sequence number, time step).
Version = tuple[int, int]


@dataclass(frozen=True)
class CachedAnswer:
    """A public answer as sent: status, headers and body, its entity tag (a hash of the
    body: the same bytes, the same tag) and when it was built (Last-Modified)."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: str
    built_at: datetime


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class PublicCache:
    """One per server process (``Platform.public_cache``); thread-safe."""

    def __init__(self, platform: Platform, *, max_entries: int = 512,
                 max_body_bytes: int = 2 * 1024 * 1024, max_total_bytes: int = 64 * 1024 * 1024,
                 time_step_s: int = 10) -> None:
        self._platform = platform
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Version, CachedAnswer]] = OrderedDict()
        self.max_entries, self.max_body_bytes = max_entries, max_body_bytes
        self.max_total_bytes, self._total_bytes = max_total_bytes, 0
        self.time_step_s = time_step_s
        self.hits = self.misses = self.aged_served = 0

    def version(self) -> Version:
        """The public read model's version now (one read of the audit log's head)."""
        with self._platform.sessions() as s:
            head = s.get(m.AuditHead, 1)
            seq = head.seq if head is not None else 0
        return seq, int(self._platform.clock().timestamp()) // self.time_step_s

    def get(self, key: str, version: Version) -> CachedAnswer | None:
        """The answer cached for ``key`` if it was built at ``version``."""
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != version:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def just_aged(self, key: str, version: Version) -> CachedAnswer | None:
        """The answer for ``key`` if nothing audited changed since it was built and only
        the time step moved on, by one: what may be served while it is built again
        (everything published is as fresh; time-dependent wording is one step late, for
        as long as one build takes)."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            (seq, step), answer = found
            if seq != version[0] or step != version[1] - 1:
                return None
            self.aged_served += 1
            return answer

    def peek(self, key: str, version: Version) -> CachedAnswer | None:
        """Like ``get``, without counting a hit or a miss."""
        with self._lock:
            found = self._entries.get(key)
            return found[1] if found is not None and found[0] == version else None

    def put(self, key: str, version: Version, status: int,
            headers: list[tuple[bytes, bytes]], body: bytes) -> CachedAnswer:
        """Keep an answer built at ``version`` (when it is small enough)."""
        tag, now = entity_tag(body), utcnow().replace(microsecond=0)
        with self._lock:
            previous = self._entries.get(key)
            if previous is not None:
                # Last-Modified moves only when the bytes do, and then always forward (it
                # has whole seconds: two versions built in one second must differ).
                built = previous[1].built_at
                now = built if previous[1].etag == tag else max(now, built + timedelta(seconds=1))
        answer = CachedAnswer(status, tuple(headers), body, tag, now)
        if len(body) > self.max_body_bytes:
            return answer
        with self._lock:
            replaced = self._entries.pop(key, None)
            if replaced is not None:
                self._total_bytes -= len(replaced[1].body)
            self._entries[key] = (version, answer)
            self._total_bytes += len(body)
            while (len(self._entries) > self.max_entries
                   or self._total_bytes > self.max_total_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._total_bytes -= len(dropped.body)
        return answer

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._total_bytes = 0
