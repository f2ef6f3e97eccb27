"""Simulated sessions at a fixed arrival rate, every request recorded: the catalogue benchmark's
traffic.

Each request is one session's next move, as in the locust users (`users.py`): a page of
`page_size` items, then a swipe on each but the last, then the next page. Requests start on a
fixed schedule (`rate` per second) whatever the service's speed; each is timed from its
actual send, and how late the send was against its schedule is kept too, so that a run can
show the generator kept up (a late generator measures itself). Every served page is kept
with its time, so impressions of uploaded items and served takedowns can be counted after.
"""

import asyncio
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass, field

from loadtest.keepalive import Pool, ProtocolError

DURATION_MS = 15_000  # every simulated item is 15 s long


@dataclass(slots=True)
class Sent:
    endpoint: str  # "swipe" or "feed"
    scheduled_s: float  # monotonic time the schedule wanted it sent
    lag_s: float  # how late it was sent
    latency_s: float
    status: int  # 0: no answer


@dataclass(frozen=True, slots=True)
class Served:
    at_s: float  # monotonic time the page arrived
    items: tuple[str, ...]
    explore: tuple[bool, ...]


@dataclass(slots=True)
class _Session:
    id: str
    queue: deque[str] = field(default_factory=deque)
    cursor: str | None = None
    swipes: int = 0


@dataclass(slots=True)
class Traffic:
    """What one run sent and saw."""

    sent: list[Sent] = field(default_factory=list)
    pages: list[Served] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # exception name -> count


class PacedSessions:
    def __init__(
        self,
        pool: Pool,
        rate: float,
        page_size: int = 5,
        session_swipes: int = 40,
        seed: int = 0,
    ) -> None:
        self._pool = pool
        self._interval_s = 1.0 / rate
        self._page_size = page_size
        self._session_swipes = session_swipes
        self._rng = random.Random(seed)
        self._idle: deque[_Session] = deque()
        self._numbers = itertools.count()
        self._run = f"b{seed}-{time.time_ns() % 10**9}"
        self.traffic = Traffic()

    async def run(self, duration_s: float, stop: asyncio.Event | None = None) -> None:
        """Send for `duration_s` seconds or until `stop` is set, then wait for the requests
        still out."""
        start = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        for n in itertools.count():
            due = start + n * self._interval_s
            if due - start >= duration_s or (stop is not None and stop.is_set()):
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._one(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)

    async def _one(self, scheduled_s: float) -> None:
        session = self._idle.popleft() if self._idle else self._new_session()
        sent_at = time.monotonic()
        endpoint = "swipe" if len(session.queue) > 1 else "feed"
        status = 0
        try:
            if endpoint == "feed":
                status = await self._feed(session)
            else:
                status = await self._swipe(session, session.queue.popleft())
        except (OSError, ProtocolError, asyncio.IncompleteReadError) as error:
            name = type(error).__name__
            self.traffic.errors[name] = self.traffic.errors.get(name, 0) + 1
        done = time.monotonic()
        self.traffic.sent.append(
            Sent(endpoint, scheduled_s, sent_at - scheduled_s, done - sent_at, status)
        )
        if session.swipes < self._session_swipes:
            self._idle.append(session)

    def _new_session(self) -> _Session:
        return _Session(f"{self._run}-{next(self._numbers)}")

    async def _feed(self, session: _Session) -> int:
        path = f"/feed?session_id={session.id}&count={self._page_size}"
        if session.cursor is not None:
            path += f"&cursor={session.cursor}"
        reply = await self._pool.request("GET", path)
        if reply.status == 200:
            body = reply.json()
            items = tuple(str(item["item_id"]) for item in body["items"])
            explore = tuple(item["source"] == "explore" for item in body["items"])
            self.traffic.pages.append(Served(time.monotonic(), items, explore))
            session.queue.clear()
            session.queue.extend(items)
            session.cursor = str(body["next_cursor"])
            if not items:
                session.swipes = self._session_swipes  # used up: the session ends
        return reply.status

    async def _swipe(self, session: _Session, item_id: str) -> int:
        session.swipes += 1
        watched = self._rng.random()
        event = {
            "session_id": session.id,
            "item_id": item_id,
            "event_id": str(session.swipes),
            "watch_ms": int(watched * DURATION_MS),
            "duration_ms": DURATION_MS,
            "liked": watched > 0.9,
        }
        reply = await self._pool.request("POST", "/swipe", event)
        return reply.status
