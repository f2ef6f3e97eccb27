"""RecentStates: the last blob this process wrote for each session it served lately.

A session's next request usually reaches the same process (its client's connection stays
open), so the Redis store can start from the blob it wrote last instead of reading it back:
one round trip per request instead of two. The write is still a compare-and-set on `rev`, so
an entry that another replica made stale costs one failed write and a fresh read, never a lost
update. Entries idle longer than `max_idle_s` are gone: kept below the session TTL, no entry
can outlive its Redis key (a key only expires after a TTL without any write, including ours).
"""

import time
from collections import OrderedDict
from collections.abc import Callable


class RecentStates:
    """A bounded LRU of session id -> (rev, blob, last use); not shared between processes."""

    __slots__ = ("_capacity", "_clock", "_entries", "_max_idle_s")

    def __init__(
        self, capacity: int, max_idle_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 0 or max_idle_s <= 0:
            raise ValueError("capacity must be >= 0 and max_idle_s positive")
        self._capacity = capacity
        self._max_idle_s = max_idle_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str) -> tuple[bytes, bytes] | None:
        """(rev, blob) as this process last wrote them, unless idle too long or evicted."""
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        rev, blob, used_at = entry
        if self._clock() - used_at > self._max_idle_s:
            del self._entries[session_id]
            return None
        return rev, blob

    def put(self, session_id: str, rev: bytes, blob: bytes) -> None:
        if self._capacity == 0:
            return
        self._entries[session_id] = (rev, blob, self._clock())
        self._entries.move_to_end(session_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)  # the least recently written

    def drop(self, session_id: str) -> None:
        self._entries.pop(session_id, None)
