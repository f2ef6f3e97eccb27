"""The catalogue log: uploads and takedowns in one order that every replica reads.

Positions count entries from 1; a reader that has applied `after` entries asks for the next
ones. On Redis the log is one list, `{prefix}:catalogue:log`: RPUSH appends a request's
entries together (consecutive positions, its reply the position of the last), LRANGE reads
on from a position. One key is one slot, so it works on a Redis Cluster unchanged. The
embedded store has the same contract (local_log.py).
"""

from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeVar

from app.errors import StateStoreUnavailable
from app.redis_client import REDIS_ERRORS, RedisClient, forget_stale_connections

R = TypeVar("R")


class CatalogueLog(Protocol):
    async def append(self, entries: Sequence[bytes]) -> int:
        """Add entries at the end, in order; returns the position of the last one."""

    async def read(self, after: int, limit: int) -> tuple[int, list[bytes]]:
        """(the log's length, up to `limit` entries at positions after+1, after+2, ...)."""

    async def close(self) -> None: ...


def log_key(key_prefix: str) -> str:
    return f"{key_prefix}:catalogue:log"


class RedisCatalogueLog(CatalogueLog):
    """Every failure is StateStoreUnavailable. An append whose reply was lost may have been
    applied: a retried upload then reads as unchanged, a retried takedown repeats harmlessly.
    The client is the caller's: `close` leaves it open."""

    __slots__ = ("_client", "_key")

    def __init__(self, client: RedisClient, key_prefix: str) -> None:
        self._client = client
        self._key = log_key(key_prefix)

    async def append(self, entries: Sequence[bytes]) -> int:
        if not entries:
            raise ValueError("nothing to append")
        length: int = await self._call(self._client.rpush(self._key, *entries))
        return length

    async def read(self, after: int, limit: int) -> tuple[int, list[bytes]]:
        async def both() -> tuple[int, list[bytes]]:
            # one transaction, so that the length and the entries are of the same moment
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.llen(self._key)
                pipe.lrange(self._key, after, after + limit - 1)
                length, entries = await pipe.execute()
            return int(length), list(entries)

        return await self._call(both())

    async def close(self) -> None:
        """Nothing of its own to release."""

    async def _call(self, command: Awaitable[R]) -> R:
        try:
            return await command
        except REDIS_ERRORS as error:
            await forget_stale_connections(self._client, error)
            raise StateStoreUnavailable(
                "The catalogue log is unreachable right now; try again shortly."
            ) from error
