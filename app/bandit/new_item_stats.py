"""Impressions and engagement of uploaded items: the evidence of the new-item tier.

Counted per ledger ordinal (catalogue/ledger.py), which is the same on every replica and under
every bundle. As with the arms (rewards.py) no request touches the network: each process
counts in memory, and with Redis a background task adds its counts to one hash shared by every
replica (fields i:{item_id}, r:{item_id}) every `bandit_sync_s` and reads back the totals of
the items still in the tier, so the counts lag the other replicas by that much. Items past the
tier's threshold are no longer read back: their shared count stays as last read.
"""

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.bandit.periodic_sync import sync_every
from app.errors import StateStoreUnavailable
from app.redis_client import REDIS_ERRORS, RedisClient, forget_stale_connections

logger = logging.getLogger(__name__)
Counts = npt.NDArray[np.float64]  # (2, n_items): impressions, reward sums


class NewItemStats:
    __slots__ = ("_client", "_generation", "_graduate_at", "_ids", "_key", "_pending", "_shared")

    def __init__(self, client: RedisClient | None, key_prefix: str, graduate_at: int) -> None:
        self._client = client  # None: the embedded store, counts of this process only
        self._key = f"{key_prefix}:catalogue:exposure"
        self._graduate_at = graduate_at
        self._ids: list[str] = []  # ordinal -> item id
        self._pending: Counts = np.zeros((2, 0))  # counted here since the last sync
        self._shared: Counts = np.zeros((2, 0))  # every replica's totals as last read
        self._generation = 0  # how many times the ledger started over

    def track(self, item_ids: Sequence[str]) -> None:
        """The ledger's uploaded items, ordinal -> id, as of a new catalogue; counts of items
        already tracked stay, unless the ledger started over (a shorter list)."""
        if len(item_ids) < len(self._ids):
            self._pending, self._shared = np.zeros((2, 0)), np.zeros((2, 0))
            self._generation += 1
        self._ids = list(item_ids)
        grow = len(item_ids) - self._pending.shape[1]
        if grow > 0:
            self._pending = np.pad(self._pending, ((0, 0), (0, grow)))
            self._shared = np.pad(self._shared, ((0, 0), (0, grow)))

    def record_impressions(self, ordinals: Sequence[int]) -> None:
        np.add.at(self._pending[0], np.asarray(ordinals, dtype=np.int64), 1.0)

    def record_reward(self, ordinal: int, reward: float) -> None:
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"a reward must lie in [0, 1], got {reward}")
        self._pending[1, ordinal] += reward

    def counts(self, ordinals: npt.NDArray[np.int64]) -> tuple[Counts, Counts]:
        """(n,) ordinals -> (n,) impressions and (n,) reward sums: every replica's as of the
        last sync, plus this process's since."""
        totals = self._shared[:, ordinals] + self._pending[:, ordinals]  # (2, n)
        return totals[0], totals[1]

    async def sync(self) -> None:
        """Send the local counts, read back the tier's totals; StateStoreUnavailable when Redis
        is not there. Counts that fail to go are kept for the next sync."""
        if self._client is None:
            return
        taken, ids, generation = self._pending, self._ids, self._generation
        self._pending = np.zeros_like(taken)
        watched = np.flatnonzero((self._shared[0] < self._graduate_at) | (taken[0] > 0))
        fields = [f"{kind}:{ids[ordinal]}" for ordinal in watched.tolist() for kind in "ir"]
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for ordinal in np.flatnonzero(taken[0]).tolist():
                    pipe.hincrby(self._key, f"i:{ids[ordinal]}", int(taken[0, ordinal]))
                for ordinal in np.flatnonzero(taken[1]).tolist():
                    pipe.hincrbyfloat(self._key, f"r:{ids[ordinal]}", float(taken[1, ordinal]))
                if fields:
                    pipe.hmget(self._key, fields)
                replies = await pipe.execute()
        except REDIS_ERRORS as error:
            if generation == self._generation:
                self._pending[:, : taken.shape[1]] += taken
            await forget_stale_connections(self._client, error)
            raise StateStoreUnavailable(f"new-item counts cannot be synced: {error}") from error
        if fields and generation == self._generation:  # else the ledger started over meanwhile
            values = np.array([float(value or 0) for value in replies[-1]]).reshape(-1, 2)
            self._shared[:, watched] = values.T

    async def run(self, interval_s: float) -> None:
        """Sync every interval until cancelled (periodic_sync.py)."""
        await sync_every(self.sync, interval_s, "new-item", logger)
