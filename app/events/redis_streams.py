"""The event log on Redis Streams: `shards` streams, each capped near `max_len` entries.

Shard n is the stream `{prefix}:events:{n}` (the hash tag puts shards on different Cluster
slots). On one Redis server the session store appends inside its compare-and-set script, so
that an entry is logged if and only if its state was written (session/store.py); on a
Cluster, where one script cannot touch two slots, `RedisEventAppender` appends after the
update. The trainer reads through the consumer group `trainer`: an entry is acknowledged
only once the checkpoint holding it is durable, and entries delivered before a crash but
not in its checkpoint are read again after it.
"""

import logging
from collections.abc import Mapping
from typing import Any

import redis
from redis.cluster import RedisCluster

from app.events.log import EventAppender, EventReader, Record, shard_of
from app.redis_client import REDIS_ERRORS, RedisClient

logger = logging.getLogger(__name__)
GROUP = "trainer"
CONSUMER = "trainer"  # one trainer: a restarted one reads what it was delivered and never acked
FIELD = b"e"


def stream_key(key_prefix: str, shard: int) -> str:
    return f"{key_prefix}:events:{{{shard}}}"


def position_key(position: str) -> tuple[int, int]:
    """A stream id 'ms-seq' as a sortable pair; '0' (nothing read) sorts first."""
    ms, _, seq = position.partition("-")
    return int(ms), int(seq or 0)


class RedisEventAppender(EventAppender):
    """XADD after the state update (Redis Cluster). A failure is counted and logged."""

    __slots__ = ("_client", "_failed", "_max_len", "_prefix", "_shards")

    def __init__(
        self, client: RedisClient, key_prefix: str, shards: int, max_len: int, failed: Any
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._shards = shards
        self._max_len = max_len
        self._failed = failed  # a prometheus Counter

    def key_for(self, session_id: str) -> str:
        return stream_key(self._prefix, shard_of(session_id, self._shards))

    @property
    def max_len(self) -> int:
        return self._max_len

    async def append(self, session_id: str, entry: bytes) -> bool:
        try:
            await self._client.xadd(
                self.key_for(session_id), {FIELD: entry}, maxlen=self._max_len, approximate=True
            )
        except REDIS_ERRORS as error:
            self._failed.inc()
            logger.error("an event of session %r did not reach the log: %s", session_id, error)
            return False
        return True


class RedisEventReader(EventReader):
    """Synchronous (the trainer is no event loop), one shard after another, non-blocking."""

    def __init__(
        self,
        client: "redis.Redis | RedisCluster",
        key_prefix: str,
        shards: int,
        start: Mapping[str, str],
    ) -> None:
        self._client = client
        self._keys = {str(shard): stream_key(key_prefix, shard) for shard in range(shards)}
        self._start = {shard: start.get(shard, "0") for shard in self._keys}
        # per shard: the id after which this consumer's unacknowledged entries are read again
        # ('>' once they are exhausted: new entries only)
        self._cursor = dict.fromkeys(self._keys, "0")
        for key in self._keys.values():
            try:
                self._client.xgroup_create(key, GROUP, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    def read(self, limit: int) -> list[Record]:
        records: list[Record] = []
        for shard, key in self._keys.items():
            if len(records) >= limit:
                break
            records.extend(self._read_shard(shard, key, limit - len(records)))
        return records

    def _read_shard(self, shard: str, key: str, limit: int) -> list[Record]:
        trained = position_key(self._start[shard])
        while True:
            cursor = self._cursor[shard]
            reply: Any = self._client.xreadgroup(GROUP, CONSUMER, {key: cursor}, count=limit)
            entries: list[tuple[bytes, dict[bytes, bytes]]] = reply[0][1] if reply else []
            if cursor != ">":
                if not entries:
                    self._cursor[shard] = ">"  # the redelivered ones are done: new ones now
                    continue
                self._cursor[shard] = entries[-1][0].decode()
            fresh = [
                Record(shard, entry_id.decode(), fields.get(FIELD, b""))
                for entry_id, fields in entries
                # delivered before a crash and already in the checkpoint: not again
                if position_key(entry_id.decode()) > trained
            ]
            if fresh or cursor == ">":
                return fresh

    def commit(self, positions: Mapping[str, str]) -> None:
        """XACK every pending entry up to each shard's position."""
        for shard, position in positions.items():
            key = self._keys[shard]
            upto = position_key(position)
            while True:
                pending: Any = self._client.xpending_range(key, GROUP, "-", position, 1000)
                ids = [p["message_id"] for p in pending]
                ids = [i for i in ids if position_key(_text(i)) <= upto]
                if not ids:
                    break
                self._client.xack(key, GROUP, *ids)
            self._start[shard] = max(self._start[shard], position, key=position_key)

    def lag(self) -> int:
        total = 0
        for key in self._keys.values():
            for group in self._client.xinfo_groups(key):
                if _text(group.get("name", b"")) == GROUP:
                    total += int(group.get("lag") or 0) + int(group.get("pending") or 0)
        return total

    def close(self) -> None:
        self._client.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
