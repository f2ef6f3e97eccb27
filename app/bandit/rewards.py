"""Per-arm impression and reward counters: the evidence behind the bandit's Beta posteriors.

The feed path counts an impression for each exploration slot it serves and reads the
posteriors; the swipe path adds the engagement weight of a swipe on an explored item as its
reward. Neither touches the network: each process counts in memory, and with Redis a
background task exchanges the counts with one hash shared by every replica once a second
(one MULTI/EXEC round trip), so the posteriors lag the other replicas by that much.
"""

import logging
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.bandit.periodic_sync import sync_every
from app.errors import StateStoreUnavailable
from app.redis_client import REDIS_ERRORS, RedisClient, forget_stale_connections

logger = logging.getLogger(__name__)
Posteriors = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]  # (n_arms,) alpha, beta


class ArmStats(Protocol):
    """What the flows take: RedisArmStats across replicas, MemoryArmStats in one process."""

    def record_impressions(self, arms: list[int]) -> None: ...
    def record_reward(self, arm: int, reward: float) -> None: ...
    def posteriors(self) -> Posteriors: ...


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

    def record_impressions(self, arms: list[int]) -> None:
        _check_arms(arms, self._n_arms)
        np.add.at(self._impressions, np.asarray(arms, dtype=np.int64), 1.0)

    def record_reward(self, arm: int, reward: float) -> None:
        _check_arms([arm], self._n_arms)
        _check_reward(reward)
        self._rewards[arm] += reward

    def posteriors(self) -> Posteriors:
        return _beta_posteriors(*self.counts())

    def counts(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(impressions, rewards) per arm, copies."""
        return self._impressions.copy(), self._rewards.copy()

    def take(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(impressions, rewards) counted so far, and start again from zero."""
        taken = self._impressions, self._rewards
        self._impressions = np.zeros(self._n_arms, dtype=np.float64)
        self._rewards = np.zeros(self._n_arms, dtype=np.float64)
        return taken

    def give_back(
        self, impressions: npt.NDArray[np.float64], rewards: npt.NDArray[np.float64]
    ) -> None:
        """Counts that `take` returned and that could not be delivered: kept for the next try."""
        self._impressions += impressions
        self._rewards += rewards


class RedisArmStats:
    """One hash, fields i:{arm} (impressions) and r:{arm} (reward sum), for every replica.

    Requests only touch the local counts; `sync` (run every `interval_s` by `run`) adds
    them to the hash and reads its totals back in one transaction (on a cluster, on the master
    that owns the hash's slot). A sync that fails keeps its counts for the next one; if Redis
    applied them but the reply was lost, they count twice, which bandit statistics tolerate
    (a session state never would).
    """

    __slots__ = ("_client", "_key", "_n_arms", "_pending", "_shared")

    def __init__(self, client: RedisClient, key_prefix: str, n_arms: int) -> None:
        self._client = client
        self._key = f"{key_prefix}:bandit:arms"
        self._n_arms = n_arms
        self._pending = MemoryArmStats(n_arms)  # counted here since the last sync
        self._shared = (np.zeros(n_arms), np.zeros(n_arms))  # the hash's totals at that sync

    def record_impressions(self, arms: list[int]) -> None:
        self._pending.record_impressions(arms)

    def record_reward(self, arm: int, reward: float) -> None:
        self._pending.record_reward(arm, reward)

    def posteriors(self) -> Posteriors:
        """Every replica's counts up to the last sync, and this process's since."""
        impressions, rewards = self._pending.counts()
        return _beta_posteriors(self._shared[0] + impressions, self._shared[1] + rewards)

    async def sync(self) -> None:
        """Send the local counts, read the totals; StateStoreUnavailable when Redis is not there."""
        impressions, rewards = self._pending.take()
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for arm in np.flatnonzero(impressions).tolist():
                    pipe.hincrby(self._key, f"i:{arm}", int(impressions[arm]))
                for arm in np.flatnonzero(rewards).tolist():
                    pipe.hincrbyfloat(self._key, f"r:{arm}", float(rewards[arm]))
                pipe.hgetall(self._key)
                *_, fields = await pipe.execute()
        except REDIS_ERRORS as error:
            self._pending.give_back(impressions, rewards)
            await forget_stale_connections(self._client, error)
            raise StateStoreUnavailable(f"bandit counters cannot be synced: {error}") from error
        totals = {"i": np.zeros(self._n_arms), "r": np.zeros(self._n_arms)}  # (n_arms,) each
        for name, value in fields.items():
            kind, _, number = _text(name).partition(":")
            if kind in totals and number.isdigit() and int(number) < self._n_arms:
                totals[kind][int(number)] = float(value)  # fields of arms beyond n_arms: ignored
        self._shared = (totals["i"], totals["r"])

    async def run(self, interval_s: float) -> None:
        """Sync every interval until cancelled (periodic_sync.py)."""
        await sync_every(self.sync, interval_s, "bandit", logger)


def _text(value: bytes | str) -> str:
    """Field names are bytes, or str on a client made with decode_responses=True."""
    return value.decode() if isinstance(value, bytes) else value
