"""Per-arm impression and reward counters: the evidence behind the bandit's Beta posteriors.

The feed path counts an impression for each exploration slot it serves and reads the
posteriors; the swipe path adds the engagement weight of a swipe on an explored item as its
reward. In Redis, one hash is shared by every replica; in memory, one process keeps it.
"""

from collections import Counter
from typing import Protocol

import numpy as np
import numpy.typing as npt
import redis.asyncio
from redis.exceptions import RedisError

from app.errors import StateStoreUnavailable

Posteriors = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]  # (n_arms,) alpha, beta


class ArmStats(Protocol):
    """What the flows take: RedisArmStats across replicas, MemoryArmStats in one process."""

    async def record_impressions(self, arms: list[int]) -> None: ...
    async def record_reward(self, arm: int, reward: float) -> None: ...
    async def posteriors(self) -> Posteriors: ...


def _check_arms(arms: list[int], n_arms: int) -> None:
    if any(not 0 <= arm < n_arms for arm in arms):
        raise ValueError(f"arms must lie in 0..{n_arms - 1}, got {arms}")


def _check_reward(reward: float) -> None:
    if not 0.0 <= reward <= 1.0:
        raise ValueError(f"a reward must lie in [0, 1], got {reward}")


def _beta_posteriors(
    impressions: npt.NDArray[np.float64], rewards: npt.NDArray[np.float64]
) -> Posteriors:
    """A Beta(1, 1) prior updated by fractional successes and the impressions without them."""
    # a reward whose impression was never counted (a lost write) must not push beta below 1
    return 1.0 + rewards, 1.0 + np.maximum(impressions - rewards, 0.0)


class MemoryArmStats:
    """The counters of a single process: for the embedded store, when no Redis is set."""

    __slots__ = ("_impressions", "_n_arms", "_rewards")

    def __init__(self, n_arms: int) -> None:
        self._n_arms = n_arms
        self._impressions = np.zeros(n_arms, dtype=np.float64)  # (n_arms,)
        self._rewards = np.zeros(n_arms, dtype=np.float64)  # (n_arms,) sum of rewards

    async def record_impressions(self, arms: list[int]) -> None:
        _check_arms(arms, self._n_arms)
        np.add.at(self._impressions, np.asarray(arms, dtype=np.int64), 1.0)

    async def record_reward(self, arm: int, reward: float) -> None:
        _check_arms([arm], self._n_arms)
        _check_reward(reward)
        self._rewards[arm] += reward

    async def posteriors(self) -> Posteriors:
        return _beta_posteriors(self._impressions.copy(), self._rewards.copy())


class RedisArmStats:
    """One hash, fields i:{arm} (impressions) and r:{arm} (reward sum), for every replica."""

    __slots__ = ("_client", "_key", "_n_arms")

    def __init__(self, client: redis.asyncio.Redis, key_prefix: str, n_arms: int) -> None:
        self._client = client
        self._key = f"{key_prefix}:bandit:arms"
        self._n_arms = n_arms

    async def record_impressions(self, arms: list[int]) -> None:
        """All arms of a page in one MULTI/EXEC round trip."""
        _check_arms(arms, self._n_arms)
        if not arms:
            return
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for arm, n in sorted(Counter(arms).items()):
                    pipe.hincrby(self._key, f"i:{arm}", n)
                await pipe.execute()
        except RedisError as error:
            raise StateStoreUnavailable(f"bandit counters cannot be written: {error}") from error

    async def record_reward(self, arm: int, reward: float) -> None:
        _check_arms([arm], self._n_arms)
        _check_reward(reward)
        try:
            await self._client.hincrbyfloat(self._key, f"r:{arm}", reward)
        except RedisError as error:
            raise StateStoreUnavailable(f"bandit counters cannot be written: {error}") from error

    async def posteriors(self) -> Posteriors:
        try:
            fields = await self._client.hgetall(self._key)
        except RedisError as error:
            raise StateStoreUnavailable(f"bandit counters cannot be read: {error}") from error
        counts = {"i": np.zeros(self._n_arms), "r": np.zeros(self._n_arms)}  # (n_arms,) each
        for name, value in fields.items():
            kind, _, arm = _text(name).partition(":")
            if kind in counts and arm.isdigit() and int(arm) < self._n_arms:
                counts[kind][int(arm)] = float(value)  # fields of arms beyond n_arms: ignored
        return _beta_posteriors(counts["i"], counts["r"])


def _text(value: bytes | str) -> str:
    """Field names are bytes, or str on a client made with decode_responses=True."""
    return value.decode() if isinstance(value, bytes) else value
