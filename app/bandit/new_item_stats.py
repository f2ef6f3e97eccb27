"""Impressions and engagement of uploaded items: the evidence of the new-item tier.

Counted per ledger ordinal (catalogue/ledger.py), which is the same on every replica and under
every bundle. As with the arms (rewards.py) no request touches the network: each process
counts in memory, and with Redis a background task adds its counts to one hash shared by every
replica (fields i:{item_id}, r:{item_id}) every `bandit_sync_s` and reads back the totals of
the items still in the tier, so the counts lag the other replicas by that much. Items past the
tier's threshold are no longer read back: their shared count stays as last read.

A sync reads back at most READ_BACK_ITEMS of the tier's other items, taking turns, beside every
item this process counted since the last one, in one script call. Reading back every young
upload in a pipeline took 105 ms a sync with 10,000 of them, 14 ms with 1,000 (`python -m
loadtest.sync_bench --shown 40`; now 2.6 and 1.9 ms): redis-py packs every argument in Python
on the event loop, so each sync of a 10,000-title burst stalled the requests around it. With
U young items, another replica's counts of an item this process does not show reach it
within U / READ_BACK_ITEMS syncs (10,000 uploads: 50 s at the default 1 s).
"""

import logging
from collections.abc import Sequence

import msgpack  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt

from app.bandit.periodic_sync import sync_every
from app.errors import StateStoreUnavailable
from app.redis_client import REDIS_ERRORS, RedisClient, forget_stale_connections

logger = logging.getLogger(__name__)
READ_BACK_ITEMS = 200  # the tier's items read back per sync, beside those counted here
# One command with one argument per sync: redis-py packs every command and every argument in
# Python on the event loop, a pipeline of one HINCRBY per item shown (15 ms for 200 items) and
# one argument per field (4 ms per 1,800) alike. ARGV[1] is msgpack of [impressions, rewards,
# fields]: [[field, count], ...], [[field, sum], ...] and the fields to read back.
_ADD_AND_READ = """
local key = KEYS[1]
local impressions, rewards, fields = unpack(cmsgpack.unpack(ARGV[1]))
for _, pair in ipairs(impressions) do
  redis.call('HINCRBY', key, pair[1], pair[2])
end
for _, pair in ipairs(rewards) do
  redis.call('HINCRBYFLOAT', key, pair[1], pair[2])
end
local values = {}
for first = 1, #fields, 1000 do
  local part = redis.call('HMGET', key, unpack(fields, first, math.min(first + 999, #fields)))
  for i = 1, #part do
    values[#values + 1] = part[i] or '0'
  end
end
return values
"""
Counts = npt.NDArray[np.float64]  # (2, n_items): impressions, reward sums


class NewItemStats:
    __slots__ = (
        "_client",
        "_generation",
        "_graduate_at",
        "_ids",
        "_key",
        "_pending",
        "_shared",
        "_turn",
        "_add_and_read",
    )

    def __init__(self, client: RedisClient | None, key_prefix: str, graduate_at: int) -> None:
        self._client = client  # None: the embedded store, counts of this process only
        self._key = f"{key_prefix}:catalogue:exposure"
        self._graduate_at = graduate_at
        self._ids: list[str] = []  # ordinal -> item id
        self._pending: Counts = np.zeros((2, 0))  # counted here since the last sync
        self._shared: Counts = np.zeros((2, 0))  # every replica's totals as last read
        self._generation = 0  # how many times the ledger started over
        self._turn = 0  # where the next read-back starts among the tier's items
        self._add_and_read = None if client is None else client.register_script(_ADD_AND_READ)

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
        if self._client is None or self._add_and_read is None:
            return
        taken, ids, generation = self._pending, self._ids, self._generation
        self._pending = np.zeros_like(taken)
        watched = self._read_back(taken[0] > 0)
        shown, rewarded = np.flatnonzero(taken[0]), np.flatnonzero(taken[1])
        payload = msgpack.packb(
            [
                [[f"i:{ids[o]}", str(int(taken[0, o]))] for o in shown.tolist()],
                [[f"r:{ids[o]}", repr(float(taken[1, o]))] for o in rewarded.tolist()],
                [f"{kind}:{ids[o]}" for o in watched.tolist() for kind in "ir"],
            ]
        )
        try:
            replies = await self._add_and_read(keys=[self._key], args=[payload])
        except REDIS_ERRORS as error:
            if generation == self._generation:
                self._pending[:, : taken.shape[1]] += taken
            await forget_stale_connections(self._client, error)
            raise StateStoreUnavailable(f"new-item counts cannot be synced: {error}") from error
        if len(watched) and generation == self._generation:  # else the ledger started over
            values = np.array(replies).astype(np.float64).reshape(-1, 2)
            self._shared[:, watched] = values.T

    def _read_back(self, counted_here: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """The ordinals one sync reads: those counted here, and the next READ_BACK_ITEMS of
        the other items still in the tier, in turn."""
        others = np.flatnonzero((self._shared[0] < self._graduate_at) & ~counted_here)
        if len(others) > READ_BACK_ITEMS:
            start = self._turn % len(others)
            others = np.take(others, np.arange(start, start + READ_BACK_ITEMS), mode="wrap")
            self._turn = start + READ_BACK_ITEMS
        return np.union1d(np.flatnonzero(counted_here), others).astype(np.int64)

    async def run(self, interval_s: float) -> None:
        """Sync every interval until cancelled (periodic_sync.py)."""
        await sync_every(self.sync, interval_s, "new-item", logger)
