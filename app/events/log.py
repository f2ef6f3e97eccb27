"""The event log's one small interface: appenders in the service, one reader in the trainer.

Two implementations: Redis Streams in `shards` streams (redis_streams.py), and for the
embedded store a local append-only file (local_file.py). Kafka fits the same shape: a topic
with `shards` partitions keyed by session id (a session's events stay in order), a record's
position is its offset, `commit` is the consumer group's offset commit, and `append` is a
produce that follows the state update, as on Redis Cluster (README, "The learning loop").
"""

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

Positions = dict[str, str]  # shard -> the position of the last record read there


@dataclass(frozen=True, slots=True)
class Record:
    shard: str
    position: str  # comparable within its shard by `position_key`
    data: bytes  # an entry (entries.py)


class EventAppender(Protocol):
    async def append(self, session_id: str, entry: bytes) -> bool:
        """Append after the state update it records; False when it failed (and was counted
        and logged: a swipe is applied whether or not its entry reached the log)."""


class EventReader(Protocol):
    """Reads every shard from the positions it was opened at, oldest first per shard."""

    def read(self, limit: int) -> list[Record]:
        """Up to `limit` records not read yet (none: nothing new right now)."""

    def commit(self, positions: Mapping[str, str]) -> None:
        """Everything up to `positions` is in a durable checkpoint: the log may forget it."""

    def lag(self) -> int:
        """Entries beyond the committed positions: read or not, still owed to the trainer."""

    def close(self) -> None: ...


def shard_of(session_id: str, shards: int) -> int:
    """The same shard for every event of a session, on every replica and every run."""
    return zlib.crc32(session_id.encode()) % shards
