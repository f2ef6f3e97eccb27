"""Every entry of the event log, read-only: the embedded store's file or Redis Streams.

Redis is read with XRANGE, never through the learner's consumer group, so a health report
neither takes entries from the learner nor acknowledges them.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.events.entries import Entry, MalformedEntry, decode_entry
from app.events.redis_streams import FIELD, stream_key
from learn.source import sync_redis

BATCH = 10_000  # entries per XRANGE


def read_entries(
    redis_url: str | None, path: Path | None, key_prefix: str, shards: int
) -> Iterator[Entry]:
    """Entries in log order per shard; lines or entries that are not ours are skipped."""
    if redis_url is not None:
        yield from _redis_entries(redis_url, key_prefix, shards)
    elif path is not None:
        with path.open("rb") as lines:
            for line in lines:
                if line.endswith(b"\n"):  # a last line without it is still being written
                    yield from _decoded(line.rstrip(b"\n"))
    else:
        raise ValueError("the log is NEXTSWIPE_REDIS_URL's streams or NEXTSWIPE_EVENT_LOG_PATH")


def _redis_entries(url: str, key_prefix: str, shards: int) -> Iterator[Entry]:
    client = sync_redis(url)
    try:
        for shard in range(shards):
            key, start = stream_key(key_prefix, shard), "-"
            while True:
                batch: Any = client.xrange(key, start, "+", count=BATCH)
                for _, fields in batch:
                    yield from _decoded(fields.get(FIELD, b""))
                if len(batch) < BATCH:
                    break
                start = "(" + batch[-1][0].decode()
    finally:
        client.close()


def _decoded(data: bytes) -> Iterator[Entry]:
    try:
        yield decode_entry(data)
    except MalformedEntry:
        return
