import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio
import numpy as np
import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from app.errors import SessionBusy, StateStoreUnavailable
from app.redis_client import RedisClient, create_redis
from app.session.codec import decode
from app.session.memory_store import MemorySessionStore
from app.session.recent import RecentStates
from app.session.state import Caps, SessionState
from app.session.store import (
    Apply,
    RedisSessionStore,
    SessionLocks,
    SessionStore,
    state_key,
)
from loadtest.servers import free_port
from tests.redis_cluster import RedisClusterNodes, admin_client

PREFIX = "test"
TTL_S = 60.0
H = 4  # hidden size of the dummy states


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def swipe(item_row: int, calls: list[int] | None = None) -> Apply[int]:
    """An apply that records one swipe (on the state it is given) and returns the new seq."""

    async def apply(current: SessionState | None) -> tuple[SessionState, int]:
        if calls is not None:
            calls.append(item_row)
        await asyncio.sleep(0)  # as the swipe's step does, waiting for its micro-batch
        state = current if current is not None else SessionState(model_version="v1")
        state.apply_swipe(item_row, 1.0, np.full(H, item_row, np.float32), None, "v1", Caps())
        return state, state.seq

    return apply


async def unchanged(current: SessionState | None) -> tuple[SessionState, str]:
    assert current is not None
    return current, "no-op"


class RedisStores:
    """Builds stores on one server or cluster, each with its own client (like separate replicas)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._clients: list[RedisClient] = []

    def __call__(
        self, ttl_s: float = TTL_S, retries: int = 20, recent: int = 1000
    ) -> RedisSessionStore:
        """`recent`: sessions whose last write the store keeps (as the service does by default)."""
        self._clients.append(create_redis(self._url, 1.0, 1.0, max_connections=8))
        return RedisSessionStore(
            self._clients[-1], PREFIX, ttl_s, retries, RecentStates(recent, ttl_s / 2)
        )

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


@pytest.fixture
async def make_redis_store(server_url: str, anyio_backend: str) -> AsyncIterator[RedisStores]:
    stores = RedisStores(server_url)
    yield stores
    await stores.close()


@pytest.fixture
async def admin(server_url: str, anyio_backend: str) -> AsyncIterator[RedisClient]:
    """A plain client that inspects and tampers with the store's keys."""
    client = admin_client(server_url)
    yield client
    await client.aclose()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    store: SessionStore
    age: Callable[[str, float], Awaitable[None]]  # make a session's last update older by s


@pytest.fixture(params=["memory", "redis", "cluster"])
async def backend(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[Backend]:
    """Each store with a way to let time pass: the memory store's clock jumps; on Redis the
    key's remaining TTL shrinks (to deletion, as Redis expires it, when it reaches 0)."""
    if request.param == "memory":
        clock = FakeClock()

        async def jump(session_id: str, seconds: float) -> None:
            clock.now += seconds

        memory = MemorySessionStore(TTL_S, clock=clock)
        yield Backend(memory, jump)
        await memory.close()
        return

    url: str = request.getfixturevalue(f"{request.param}_url")
    stores, admin = RedisStores(url), admin_client(url)

    async def shorten(session_id: str, seconds: float) -> None:
        key = state_key(PREFIX, session_id)
        left_ms = await admin.pttl(key)
        await admin.pexpire(key, left_ms - round(seconds * 1000))  # <= 0 deletes the key

    yield Backend(stores(), shorten)
    await stores.close()
    await admin.aclose()


@pytest.mark.anyio
async def test_new_session_starts_from_none_and_is_stored(backend: Backend) -> None:
    given: list[SessionState | None] = []

    async def create(current: SessionState | None) -> tuple[SessionState, str]:
        given.append(current)
        return SessionState(model_version="v7", seq=3), "created"

    assert await backend.store.read("s1") is None
    assert await backend.store.update("s1", create) == "created"
    assert given == [None]
    stored = await backend.store.read("s1")
    assert stored is not None
    assert (stored.model_version, stored.seq) == ("v7", 3)
    assert await backend.store.read("s2") is None  # sessions do not mix


@pytest.mark.anyio
async def test_update_applies_to_the_stored_state_and_returns_the_result(
    backend: Backend,
) -> None:
    assert await backend.store.update("s", swipe(5)) == 1
    assert await backend.store.update("s", swipe(8)) == 2
    stored = await backend.store.read("s")
    assert stored is not None
    assert stored.seen == [5, 8]
    assert stored.hidden is not None
    np.testing.assert_array_equal(stored.hidden, np.full(H, 8, np.float32))


@pytest.mark.anyio
async def test_callers_never_share_state_with_the_store(backend: Backend) -> None:
    kept: list[SessionState] = []

    async def create(current: SessionState | None) -> tuple[SessionState, None]:
        kept.append(SessionState(model_version="v1"))
        return kept[-1], None

    await backend.store.update("s", create)
    kept[0].seen.append(99)
    read = await backend.store.read("s")
    assert read is not None
    read.seen.append(98)
    again = await backend.store.read("s")
    assert again is not None
    assert again.seen == []


@pytest.mark.anyio
async def test_no_op_keeps_the_state_and_restarts_the_idle_ttl(backend: Backend) -> None:
    await backend.store.update("s", swipe(5))
    await backend.age("s", 0.6 * TTL_S)
    assert await backend.store.update("s", unchanged) == "no-op"
    await backend.age("s", 0.6 * TTL_S)  # 1.2 TTL after the write, 0.6 after the no-op
    stored = await backend.store.read("s")
    assert stored is not None
    assert (stored.seq, stored.seen) == (1, [5])


@pytest.mark.anyio
async def test_read_does_not_restart_the_idle_ttl(backend: Backend) -> None:
    await backend.store.update("s", swipe(5))
    await backend.age("s", 0.6 * TTL_S)
    assert await backend.store.read("s") is not None
    await backend.age("s", 0.6 * TTL_S)
    assert await backend.store.read("s") is None


@pytest.mark.anyio
async def test_idle_session_expires_and_starts_over(backend: Backend) -> None:
    await backend.store.update("s", swipe(5))
    await backend.age("s", TTL_S)
    assert await backend.store.read("s") is None
    assert await backend.store.update("s", swipe(6)) == 1  # applied to None: a new session


@pytest.mark.anyio
async def test_concurrent_updates_of_one_session_all_land_without_retries(
    backend: Backend,
) -> None:
    calls: list[int] = []
    updates = (backend.store.update("s", swipe(i, calls=calls)) for i in range(50))
    seqs = await asyncio.gather(*updates)
    assert sorted(seqs) == list(range(1, 51))
    stored = await backend.store.read("s")
    assert stored is not None
    assert stored.seq == 50
    assert sorted(stored.seen) == list(range(50))
    assert sorted(calls) == list(range(50))  # queued on the session, never re-run


@pytest.mark.anyio
async def test_caps_keep_the_newest_seen_items(backend: Backend) -> None:
    caps = Caps(seen=1000)

    async def hundred_swipes(current: SessionState | None) -> tuple[SessionState, None]:
        state = current if current is not None else SessionState(model_version="v1")
        for _ in range(100):
            state.apply_swipe(state.seq, 1.0, np.zeros(H, np.float32), None, "v1", caps)
        return state, None

    for _ in range(15):
        await backend.store.update("s", hundred_swipes)
    stored = await backend.store.read("s")
    assert stored is not None
    assert stored.seq == 1500
    assert stored.seen == list(range(500, 1500))


@pytest.mark.anyio
async def test_redis_keeps_one_hash_under_a_hash_tagged_key(
    make_redis_store: RedisStores, admin: RedisClient
) -> None:
    store = make_redis_store()
    await store.update("a.b:c-1", swipe(5))
    await store.update("a.b:c-1", swipe(6))
    assert [key async for key in admin.scan_iter()] == [b"test:{a.b:c-1}:state"]
    first_rev = await admin.hget("test:{a.b:c-1}:state", "rev")
    await store.update("a.b:c-1", unchanged)
    rev, blob = await admin.hmget("test:{a.b:c-1}:state", ["rev", "blob"])
    assert rev == first_rev  # the no-op wrote nothing
    assert isinstance(rev, bytes)
    assert len(rev) == 16  # a random token (8 bytes, hex), not a counter
    assert isinstance(blob, bytes)
    assert decode(blob).seen == [5, 6]
    assert 0 < await admin.pttl("test:{a.b:c-1}:state") <= TTL_S * 1000


@pytest.mark.anyio
@pytest.mark.parametrize("server_url", ["redis"], indirect=True)  # cluster TTLs: `backend`
async def test_redis_expires_the_key_after_a_real_short_ttl(
    make_redis_store: RedisStores, admin: RedisClient
) -> None:
    store = make_redis_store(ttl_s=0.5)
    await store.update("s", swipe(5))
    assert 0 < await admin.pttl(state_key(PREFIX, "s")) <= 500
    await anyio.sleep(0.6)
    assert await store.read("s") is None


@pytest.mark.anyio
async def test_two_replicas_on_one_redis_lose_no_update(make_redis_store: RedisStores) -> None:
    replicas = [make_redis_store(), make_redis_store()]
    await asyncio.gather(*(replicas[i % 2].update("s", swipe(i)) for i in range(20)))
    stored = await replicas[0].read("s")
    assert stored is not None
    assert stored.seq == 20
    assert sorted(stored.seen) == list(range(20))


@pytest.mark.anyio
# the retry loop is the store's; the cluster refuses stale writes in the stale-copy test below
@pytest.mark.parametrize("server_url", ["redis"], indirect=True)
async def test_session_busy_when_every_write_loses_the_race(
    make_redis_store: RedisStores, redis_url: str
) -> None:
    store = make_redis_store(retries=3)
    await store.update("s", swipe(1))
    rival = redis.Redis.from_url(redis_url)  # another replica, writing between read and CAS
    calls: list[int] = []

    async def raced(current: SessionState | None) -> tuple[SessionState, int]:
        rival.hset(state_key(PREFIX, "s"), "rev", f"rival-{len(calls)}")
        return await swipe(2, calls=calls)(current)

    with pytest.raises(SessionBusy, match="too many requests"):
        await store.update("s", raced)
    rival.close()
    assert len(calls) == 4  # the first attempt and 3 retries
    stored = await store.read("s")
    assert stored is not None
    assert stored.seen == [1]


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
async def test_unreachable_redis_fails_fast_as_store_unavailable(scheme: str) -> None:
    client = create_redis(f"{scheme}://127.0.0.1:{free_port()}/0", 0.1, 0.1, max_connections=2)
    store = RedisSessionStore(client, PREFIX, TTL_S)
    with anyio.fail_after(1):
        with pytest.raises(StateStoreUnavailable, match="unreachable"):
            await store.update("s", swipe(1))
        with pytest.raises(StateStoreUnavailable):
            await store.read("s")
        with pytest.raises(StateStoreUnavailable):
            await store.ping()
    await client.aclose()


@pytest.mark.anyio
async def test_corrupt_blob_reads_as_a_new_session_and_is_replaced(
    make_redis_store: RedisStores, admin: RedisClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = state_key(PREFIX, "s")
    await admin.hset(key, mapping={"rev": 3, "blob": b"\x01garbage"})
    store = make_redis_store()
    with caplog.at_level(logging.WARNING):
        assert await store.read("s") is None
    assert "unreadable" in caplog.text
    assert await store.update("s", swipe(5)) == 1
    assert await admin.hget(key, "rev") not in (None, b"3")
    stored = await store.read("s")
    assert stored is not None
    assert stored.seen == [5]


@pytest.mark.anyio
async def test_memory_store_drops_expired_sessions_as_time_passes() -> None:
    clock = FakeClock()
    store = MemorySessionStore(TTL_S, clock=clock)
    for i in range(100):
        await store.update(f"s{i}", swipe(i))
    clock.now += TTL_S / 2
    await store.update("s0", swipe(100))  # s0 is active again; s1..s99 idle
    clock.now += TTL_S / 2
    await store.update("late", swipe(0))
    assert len(store) == 2  # s0 and late: the idle ones are gone, not merely unreadable
    await store.close()


def test_session_locks_are_shared_while_used_and_then_dropped() -> None:
    locks = SessionLocks()
    first = locks.get("s")
    assert locks.get("s") is first
    assert locks.get("t") is not first
    assert len(locks) == 1  # the lock of "t" had no holder left
    del first
    assert len(locks) == 0


async def commands(admin: RedisClient, name: str) -> int:
    """How many times the server ran the command `name` so far."""
    stats = await admin.info("commandstats")
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


@pytest.mark.anyio
@pytest.mark.parametrize("server_url", ["redis"], indirect=True)  # INFO is one server's
async def test_a_process_starts_from_its_own_last_write_without_reading(
    make_redis_store: RedisStores, admin: RedisClient
) -> None:
    store = make_redis_store()
    await store.update("s", swipe(1))
    reads = await commands(admin, "hmget")
    for item in range(2, 12):
        await store.update("s", swipe(item))
    assert await commands(admin, "hmget") == reads  # ten updates, not one read
    stored = await store.read("s")
    assert stored is not None
    assert stored.seen == list(range(1, 12))


@pytest.mark.anyio
async def test_a_copy_made_stale_by_another_replica_costs_a_retry_not_an_update(
    make_redis_store: RedisStores, admin: RedisClient
) -> None:
    one, other = make_redis_store(), make_redis_store()
    await one.update("s", swipe(1))  # one keeps its write
    await other.update("s", swipe(2))  # which is now stale
    calls: list[int] = []
    assert await one.update("s", swipe(3, calls)) == 3
    assert calls == [3, 3]  # the stale copy lost the compare-and-set, the fresh read won
    stored = await other.read("s")
    assert stored is not None
    assert stored.seen == [1, 2, 3]


@pytest.mark.anyio
async def test_a_copy_of_a_key_that_vanished_is_not_trusted(
    make_redis_store: RedisStores, admin: RedisClient
) -> None:
    store = make_redis_store()
    await store.update("s", swipe(1))
    await admin.flushall()  # as after a Redis restart without persistence
    assert await store.update("s", unchanged_or_new) == "new"  # no-op on the copy: re-read
    await store.update("s", swipe(2))
    stored = await store.read("s")
    assert stored is not None
    assert stored.seen == [2]  # a fresh session, not the lost one written back


async def unchanged_or_new(current: SessionState | None) -> tuple[SessionState, str]:
    if current is None:
        return SessionState(model_version="v1"), "new"
    return current, "unchanged"


def test_recent_states_forget_the_idle_and_the_least_recently_written() -> None:
    clock = FakeClock()
    recent = RecentStates(2, 60.0, clock=clock)
    recent.put("a", b"r1", b"A")
    recent.put("b", b"r1", b"B")
    recent.put("a", b"r2", b"A2")  # a is now the most recent
    recent.put("c", b"r1", b"C")  # b goes
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (
        (b"r2", b"A2"),
        None,
        (b"r1", b"C"),
    )
    clock.now += 60.5
    assert recent.get("a") is None
    assert len(recent) == 1
    recent.drop("c")
    assert len(recent) == 0
    off = RecentStates(0, 60.0)
    off.put("a", b"r", b"A")
    assert off.get("a") is None


@pytest.mark.anyio
async def test_cluster_sessions_spread_over_every_master(
    cluster_url: str, redis_cluster_nodes: RedisClusterNodes, anyio_backend: str
) -> None:
    stores = RedisStores(cluster_url)
    one, other = stores(), stores()
    sessions = [f"user-{n}" for n in range(30)]
    for n, session_id in enumerate(sessions):
        await one.update(session_id, swipe(n))
    async with RedisCluster.from_url(redis_cluster_nodes.node_urls[0]) as cluster:
        for session_id in sessions:  # the {session_id} hash tag alone places the key
            slot = await cluster.cluster_keyslot(state_key(PREFIX, session_id))
            assert slot == await cluster.cluster_keyslot(session_id)
    keys_per_master: list[int] = []
    for url in redis_cluster_nodes.node_urls:
        async with aioredis.Redis.from_url(url) as master:
            keys_per_master.append(await master.dbsize())
    assert len(keys_per_master) == 3
    assert sum(keys_per_master) == len(sessions)
    assert min(keys_per_master) > 0, keys_per_master
    for n, session_id in enumerate(sessions):  # another replica finds each on its master
        stored = await other.read(session_id)
        assert stored is not None
        assert stored.seen == [n]
    await stores.close()
