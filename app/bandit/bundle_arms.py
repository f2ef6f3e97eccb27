"""BundleArms: the bandit counts of one bundle, and with Redis the task that syncs them.

Arms are the clusters of one bundle: another bundle's statistics mean nothing, so each
bundle the service loads (at startup, then at every hot swap) gets counters of its own,
under a Redis key that carries its version, and the counters it replaces are stopped.
"""

import asyncio
from contextlib import suppress

from app.bandit.rewards import ArmStats, MemoryArmStats, RedisArmStats
from app.errors import StateStoreUnavailable
from app.redis_client import RedisClient


class BundleArms:
    __slots__ = ("_shared", "_sync", "arms")

    def __init__(
        self, arms: ArmStats, shared: RedisArmStats | None, sync: asyncio.Task[None] | None
    ) -> None:
        self.arms = arms  # what the flows count into and read posteriors from
        self._shared = shared
        self._sync = sync

    @classmethod
    async def start(
        cls,
        version: str,
        n_arms: int,
        client: RedisClient | None,
        key_prefix: str,
        sync_s: float,
    ) -> "BundleArms":
        """In-process counts without a client; else shared ones, synced every sync_s."""
        if client is None:
            return cls(MemoryArmStats(n_arms), None, None)
        shared = RedisArmStats(client, f"{key_prefix}:{version}", n_arms)
        with suppress(StateStoreUnavailable):  # Redis may be down: the loop retries
            await shared.sync()
        return cls(shared, shared, asyncio.create_task(shared.run(sync_s)))

    async def stop(self) -> None:
        """Stop syncing, after one last sync of the counts so far when Redis is there."""
        if self._sync is None or self._shared is None:
            return
        self._sync.cancel()
        with suppress(asyncio.CancelledError):
            await self._sync
        with suppress(StateStoreUnavailable):
            await self._shared.sync()
