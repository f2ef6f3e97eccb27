"""Session persistence: the SessionStore protocol and its Redis implementation.

Both request paths load a session, change it and write it back through `update`, one atomic
compare-and-set per write, with a 30-minute idle TTL. Keys carry a {session_id} hash tag so
that one session's keys share a Redis Cluster slot, and the compare-and-set (one key) runs on
the master that owns it.
"""

import asyncio
import logging
import os
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from app.errors import SessionBusy, StateStoreUnavailable
from app.events.redis_streams import RedisEventAppender
from app.redis_client import REDIS_ERRORS, RedisClient, forget_stale_connections, ping
from app.session.codec import CorruptState, decode, encode
from app.session.recent import RecentStates
from app.session.state import SessionState

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# await apply(current) -> (new_state, result); current is None for a new or expired session.
# It may run several times (once per conflicting write), each time on a fresh copy of the
# state: it may change that copy, but must have no effect outside the state it returns. It is
# awaited (the swipe's GRU step and the feed's search wait for their micro-batch) under the
# session's lock, so one process never runs two of one session at once. A state whose bytes
# equal the current ones (e.g. `current` returned as it came) writes nothing and only
# refreshes the TTL.
Apply = Callable[[SessionState | None], Awaitable[tuple[SessionState, T]]]

# The event-log entry of an update, from its result (None: nothing to log, e.g. a duplicate).
LogEntry = Callable[[T], bytes | None]

# KEYS[1] the state hash; ARGV: expected rev ('' when absent), new rev, new blob, TTL in ms.
# A rev is a random token, not a counter: a key that expired and was created again can never
# show a rev that a writer still holds from before (no ABA). With KEYS[2], an event stream
# (one Redis server only), ARGV[5] is appended to it in the same step, capped near ARGV[6]:
# the entry is logged if and only if the state was written.
_COMPARE_AND_SET = """
local rev = redis.call('HGET', KEYS[1], 'rev') or ''
if rev ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'rev', ARGV[2], 'blob', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if #KEYS > 1 then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'e', ARGV[5]) end
return 1
"""


class SessionStore(Protocol):
    async def update(self, session_id: str, apply: Apply[T], log: LogEntry[T] | None = None) -> T:
        """Atomic read-modify-write of one session; every call restarts its idle TTL.
        `log(result)` is the event-log entry of the written state, appended once."""

    async def read(self, session_id: str) -> SessionState | None:
        """The session's state, or None when absent or expired; leaves the TTL alone."""

    async def ping(self) -> None:
        """Raises StateStoreUnavailable when the store cannot be reached (readiness)."""

    async def close(self) -> None: ...


class SessionLocks:
    """One asyncio.Lock per session in use, so that one process's concurrent requests of a
    session queue instead of burning CAS retries. Locks are held weakly: a lock nobody holds
    or awaits disappears, so ended sessions leave nothing behind."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._locks)

    def get(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        return lock


def state_key(key_prefix: str, session_id: str) -> str:
    return f"{key_prefix}:{{{session_id}}}:state"


class RedisSessionStore(SessionStore):
    """A hash {rev, blob} per session; writes compare `rev` and set both in one Lua script.
    An update starts from the blob this process wrote last when it has it (`RecentStates`),
    else reads; a write that loses the compare reads and tries again.
    The client is the caller's (the bandit's counters share it): `close` leaves it open.
    With `events`, entries go to its streams: inside the write on one server (`atomic_log`),
    after it on a Cluster."""

    def __init__(
        self,
        client: RedisClient,
        key_prefix: str,
        ttl_s: float,
        retries: int = 20,
        recent: RecentStates | None = None,
        events: RedisEventAppender | None = None,
        atomic_log: bool = True,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._ttl_ms = round(ttl_s * 1000)
        self._retries = retries
        self._compare_and_set = client.register_script(_COMPARE_AND_SET)
        self._locks = SessionLocks()
        self._recent = recent if recent is not None else RecentStates(0, 1.0)
        self._events = events
        self._atomic_log = atomic_log

    async def update(self, session_id: str, apply: Apply[T], log: LogEntry[T] | None = None) -> T:
        key = state_key(self._prefix, session_id)
        entry: bytes | None = None
        async with self._locks.get(session_id):
            known = self._recent.get(session_id)
            for _ in range(1 + self._retries):
                blob: bytes | None
                if known is not None:  # what this process wrote last: no read
                    (rev, blob), known = known, None
                    current: SessionState | None = decode(blob)
                else:
                    rev, blob, current = await self._load(key)
                new, result = await apply(current)
                new_blob = encode(new)
                entry = log(result) if log is not None and self._events is not None else None
                if (
                    new_blob == blob and entry is None
                ):  # nothing to write; PEXPIRE says whether the key is there
                    if await self._call(self._client.pexpire(key, self._ttl_ms)):
                        return result
                    self._recent.drop(session_id)  # gone since (e.g. Redis restarted): read again
                    continue
                new_rev = os.urandom(8).hex().encode()
                args: list[int | bytes] = [rev, new_rev, new_blob, self._ttl_ms]
                keys = [key]
                if entry is not None and self._events is not None and self._atomic_log:
                    keys.append(self._events.key_for(session_id))
                    args += [entry, self._events.max_len]
                if await self._call(self._compare_and_set(keys=keys, args=args)):
                    self._recent.put(session_id, new_rev, new_blob)
                    if entry is not None and self._events is not None and not self._atomic_log:
                        await self._events.append(session_id, entry)
                    return result
                self._recent.drop(session_id)
        raise SessionBusy(f"Session {session_id!r} is being changed by too many requests at once.")

    async def read(self, session_id: str) -> SessionState | None:
        return (await self._load(state_key(self._prefix, session_id)))[2]

    async def ping(self) -> None:
        await self._call(ping(self._client))

    async def close(self) -> None:
        """Nothing of its own to release; whoever made the client closes it."""

    async def _load(self, key: str) -> tuple[bytes, bytes | None, SessionState | None]:
        """(rev, blob, state); a blob that does not decode reads as an expired session, and
        its rev stays, so that the next write replaces it."""
        rev, blob = await self._call(self._client.hmget(key, ["rev", "blob"]))
        revision = rev if isinstance(rev, bytes) else b""  # absent: b""
        if not isinstance(blob, bytes):  # absent: the client returns bytes, never str
            return revision, None, None
        try:
            return revision, blob, decode(blob)
        except CorruptState as exc:
            logger.warning("session key %s is unreadable, starting over: %s", key, exc)
            return revision, None, None

    async def _call(self, command: Awaitable[R]) -> R:
        """Every Redis failure leaves the store as StateStoreUnavailable (503 + Retry-After)."""
        try:
            return await command
        except REDIS_ERRORS as exc:
            await forget_stale_connections(self._client, exc)
            raise StateStoreUnavailable(
                "The session store is unreachable right now; try again shortly."
            ) from exc
