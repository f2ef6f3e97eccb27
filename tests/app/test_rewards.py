"""Both arm-stat stores obey one contract; the Redis one shares its counts at each sync,
and keeps counting locally while Redis is away."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.bandit.rewards import ArmStats, MemoryArmStats, RedisArmStats
from app.errors import StateStoreUnavailable
from loadtest.servers import free_port, redis_server
from tests.redis_cluster import admin_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis", "cluster"])
async def stats(request: pytest.FixtureRequest, anyio_backend: str) -> AsyncIterator[ArmStats]:
    if request.param == "memory":
        yield MemoryArmStats(4)
        return
    client = admin_client(request.getfixturevalue(f"{request.param}_url"))
    yield RedisArmStats(client, "test", 4)
    await client.aclose()


@pytest.mark.anyio
async def test_fresh_arms_have_the_uniform_prior(stats: ArmStats) -> None:
    alpha, beta = stats.posteriors()
    np.testing.assert_array_equal(alpha, np.ones(4))
    np.testing.assert_array_equal(beta, np.ones(4))
    assert alpha.dtype == beta.dtype == np.float64


@pytest.mark.anyio
async def test_impressions_and_rewards_update_the_posteriors(stats: ArmStats) -> None:
    stats.record_impressions([0, 0, 2, 0])
    stats.record_impressions([2, 3])
    stats.record_impressions([])
    stats.record_reward(0, 1.0)
    stats.record_reward(0, 0.25)
    stats.record_reward(2, 0.5)
    alpha, beta = stats.posteriors()
    # alpha = 1 + rewards; beta = 1 + impressions - rewards
    np.testing.assert_allclose(alpha, [2.25, 1.0, 1.5, 1.0])
    np.testing.assert_allclose(beta, [2.75, 1.0, 2.5, 2.0])


@pytest.mark.anyio
async def test_reward_without_impression_keeps_beta_at_the_prior(stats: ArmStats) -> None:
    stats.record_reward(1, 0.75)
    stats.record_reward(1, 0.75)
    stats.record_impressions([1])
    alpha, beta = stats.posteriors()
    assert alpha[1] == pytest.approx(2.5)
    assert beta[1] == 1.0


@pytest.mark.anyio
async def test_out_of_range_arms_and_rewards_are_refused(stats: ArmStats) -> None:
    with pytest.raises(ValueError, match=r"arms must lie in 0..3"):
        stats.record_impressions([0, 4])
    with pytest.raises(ValueError, match=r"arms must lie in 0..3"):
        stats.record_reward(-1, 0.5)
    with pytest.raises(ValueError, match=r"reward must lie in \[0, 1\]"):
        stats.record_reward(0, 1.5)
    alpha, beta = stats.posteriors()  # nothing half-applied
    assert alpha.tolist() == beta.tolist() == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.anyio
async def test_replicas_share_one_hash_at_each_sync(server_url: str) -> None:
    first = admin_client(server_url)
    second = admin_client(server_url, decode_responses=True)
    one, other = RedisArmStats(first, "ns", 3), RedisArmStats(second, "ns", 3)
    one.record_impressions([1, 1, 2])
    other.record_reward(1, 0.5)
    assert await first.hgetall("ns:bandit:arms") == {}  # nothing leaves a process before a sync
    np.testing.assert_allclose(other.posteriors()[1], [1.0, 1.0, 1.0])  # not yet one's counts
    await one.sync()
    await other.sync()
    raw = await first.hgetall("ns:bandit:arms")
    assert raw == {b"i:1": b"2", b"i:2": b"1", b"r:1": b"0.5"}
    await one.sync()  # a client decoding responses reads the same
    for stats in (one, other):
        alpha, beta = stats.posteriors()
        np.testing.assert_allclose(alpha, [1.0, 1.5, 1.0])
        np.testing.assert_allclose(beta, [1.0, 2.5, 2.0])
    await one.sync()  # counts are sent once: a second sync adds nothing
    assert await first.hgetall("ns:bandit:arms") == raw
    await first.aclose()
    await second.aclose()


@pytest.mark.anyio
async def test_fields_of_arms_beyond_the_bundles_are_ignored(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.hset("ns:bandit:arms", mapping={"i:0": 3, "i:9": 5, "r:9": 1, "junk": 1})
    stats = RedisArmStats(client, "ns", 2)
    await stats.sync()
    alpha, beta = stats.posteriors()
    assert alpha.tolist() == [1.0, 1.0]
    assert beta.tolist() == [4.0, 1.0]
    await client.aclose()


@pytest.mark.anyio
async def test_counts_made_while_redis_is_away_arrive_when_it_is_back(tmp_path: Path) -> None:
    port = free_port()
    no_retries = Retry(NoBackoff(), retries=0)
    client = redis.asyncio.Redis(port=port, socket_connect_timeout=0.2, retry=no_retries)
    stats = RedisArmStats(client, "ns", 2)
    stats.record_impressions([0, 0])
    stats.record_reward(0, 1.0)
    with pytest.raises(StateStoreUnavailable, match="cannot be synced"):
        await stats.sync()
    stats.record_impressions([1])  # requests go on counting locally
    np.testing.assert_allclose(stats.posteriors()[0], [2.0, 1.0])
    with redis_server(tmp_path, port):
        await stats.sync()
        raw = await client.hgetall("ns:bandit:arms")
    assert raw == {b"i:0": b"2", b"i:1": b"1", b"r:0": b"1"}
    np.testing.assert_allclose(stats.posteriors()[1], [2.0, 2.0])  # counted once, not twice
    await client.aclose()


@pytest.mark.anyio
async def test_the_sync_loop_runs_until_cancelled(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    stats = RedisArmStats(client, "ns", 2)
    loop = asyncio.create_task(stats.run(0.01))
    stats.record_impressions([1])
    for _ in range(200):
        if await client.hget("ns:bandit:arms", "i:1") == b"1":
            break
        await asyncio.sleep(0.01)
    assert await client.hget("ns:bandit:arms", "i:1") == b"1"
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    await client.aclose()
