"""MemorySessionStore: the embedded session store of a single process (no redis_url set).

It keeps the SessionStore contract of the Redis store on the swipe and feed paths: states
are held as codec bytes, so callers never share mutable state with it and both stores hold
byte-for-byte the same thing, and a session expires ttl_s after its last update.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from app.events.local_file import LocalEventFile
from app.session.codec import decode, encode
from app.session.state import SessionState
from app.session.store import Apply, LogEntry, SessionLocks, SessionStore

T = TypeVar("T")


class MemorySessionStore(SessionStore):
    """Sessions in the order of their last update, which with one TTL is the order they
    expire in: each call pops the expired ones off the front, so memory holds only the
    sessions active within the last ttl_s.

    One process holds every session, so a per-session lock around the read, the awaited
    `apply` and the write makes `update` atomic: unlike the Redis store it needs no revision,
    and `apply` runs exactly once.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        events: LocalEventFile | None = None,
    ) -> None:
        self._ttl_s = ttl_s
        self._events = events  # entries are added in the same step as their state
        self._clock = clock  # seconds, monotonic; injectable so tests can jump past the TTL
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # -> (expiry, blob)
        self._locks = SessionLocks()

    def __len__(self) -> int:
        """Sessions held (a gauge for metrics); expired ones go at the next call."""
        return len(self._entries)

    async def update(self, session_id: str, apply: Apply[T], log: LogEntry[T] | None = None) -> T:
        async with self._locks.get(session_id):
            current = self._live(session_id, self._clock())
            new, result = await apply(current)
            # written back even when unchanged: that restarts the idle TTL
            self._entries[session_id] = (self._clock() + self._ttl_s, encode(new))
            self._entries.move_to_end(session_id)
            if log is not None and self._events is not None:
                entry = log(result)
                if entry is not None:
                    self._events.add(entry)
        return result

    async def read(self, session_id: str) -> SessionState | None:
        return self._live(session_id, self._clock())

    async def ping(self) -> None:
        """Always reachable: it lives in this process."""

    async def close(self) -> None:
        self._entries.clear()

    def _live(self, session_id: str, now: float) -> SessionState | None:
        """A fresh copy of the session's state, after dropping every expired session."""
        while self._entries:
            oldest, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now:
                break
            del self._entries[oldest]
        entry = self._entries.get(session_id)
        return None if entry is None else decode(entry[1])
