"""Both arm-stat stores obey one contract; the Redis one is shared and fails as a 503."""

import socket
from collections.abc import AsyncIterator

import numpy as np
import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.bandit.rewards import ArmStats, MemoryArmStats, RedisArmStats
from app.errors import StateStoreUnavailable


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
async def stats(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[ArmStats]:
    if request.param == "memory":
        yield MemoryArmStats(4)
        return
    client = redis.asyncio.Redis.from_url(redis_url)
    yield RedisArmStats(client, "test", 4)
    await client.aclose()


@pytest.mark.anyio
async def test_fresh_arms_have_the_uniform_prior(stats: ArmStats) -> None:
    alpha, beta = await stats.posteriors()
    np.testing.assert_array_equal(alpha, np.ones(4))
    np.testing.assert_array_equal(beta, np.ones(4))
    assert alpha.dtype == beta.dtype == np.float64


@pytest.mark.anyio
async def test_impressions_and_rewards_update_the_posteriors(stats: ArmStats) -> None:
    await stats.record_impressions([0, 0, 2, 0])
    await stats.record_impressions([2, 3])
    await stats.record_impressions([])
    await stats.record_reward(0, 1.0)
    await stats.record_reward(0, 0.25)
    await stats.record_reward(2, 0.5)
    alpha, beta = await stats.posteriors()
    # alpha = 1 + rewards; beta = 1 + impressions - rewards
    np.testing.assert_allclose(alpha, [2.25, 1.0, 1.5, 1.0])
    np.testing.assert_allclose(beta, [2.75, 1.0, 2.5, 2.0])


@pytest.mark.anyio
async def test_reward_without_impression_keeps_beta_at_the_prior(stats: ArmStats) -> None:
    await stats.record_reward(1, 0.75)
    await stats.record_reward(1, 0.75)
    await stats.record_impressions([1])
    alpha, beta = await stats.posteriors()
    assert alpha[1] == pytest.approx(2.5)
    assert beta[1] == 1.0


@pytest.mark.anyio
async def test_out_of_range_arms_and_rewards_are_refused(stats: ArmStats) -> None:
    with pytest.raises(ValueError, match=r"arms must lie in 0..3"):
        await stats.record_impressions([0, 4])
    with pytest.raises(ValueError, match=r"arms must lie in 0..3"):
        await stats.record_reward(-1, 0.5)
    with pytest.raises(ValueError, match=r"reward must lie in \[0, 1\]"):
        await stats.record_reward(0, 1.5)
    alpha, beta = await stats.posteriors()  # nothing half-applied
    assert alpha.tolist() == beta.tolist() == [1.0, 1.0, 1.0, 1.0]


@pytest.mark.anyio
async def test_replicas_share_one_hash(redis_url: str) -> None:
    first = redis.asyncio.Redis.from_url(redis_url)
    second = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    await RedisArmStats(first, "ns", 3).record_impressions([1, 1, 2])
    await RedisArmStats(second, "ns", 3).record_reward(1, 0.5)
    raw = await first.hgetall("ns:bandit:arms")
    assert raw == {b"i:1": b"2", b"i:2": b"1", b"r:1": b"0.5"}
    for client in (first, second):  # a client decoding responses reads the same
        alpha, beta = await RedisArmStats(client, "ns", 3).posteriors()
        np.testing.assert_allclose(alpha, [1.0, 1.5, 1.0])
        np.testing.assert_allclose(beta, [1.0, 2.5, 2.0])
    await first.aclose()
    await second.aclose()


@pytest.mark.anyio
async def test_fields_of_arms_beyond_the_bundles_are_ignored(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.hset("ns:bandit:arms", mapping={"i:0": 3, "i:9": 5, "r:9": 1, "junk": 1})
    alpha, beta = await RedisArmStats(client, "ns", 2).posteriors()
    assert alpha.tolist() == [1.0, 1.0]
    assert beta.tolist() == [4.0, 1.0]
    await client.aclose()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.anyio
async def test_unreachable_redis_is_a_state_store_error() -> None:
    no_retries = Retry(NoBackoff(), retries=0)
    client = redis.asyncio.Redis(port=unused_port(), socket_connect_timeout=0.2, retry=no_retries)
    arm_stats = RedisArmStats(client, "ns", 2)
    with pytest.raises(StateStoreUnavailable, match="cannot be written"):
        await arm_stats.record_impressions([0])
    with pytest.raises(StateStoreUnavailable, match="cannot be written"):
        await arm_stats.record_reward(0, 1.0)
    with pytest.raises(StateStoreUnavailable, match="cannot be read"):
        await arm_stats.posteriors()
    await client.aclose()
