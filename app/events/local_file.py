"""The embedded store's event log: one append-only file of JSON lines, followed by the trainer.

The service adds an entry in the same synchronous step as the state update it records (so on
the embedded store an entry exists if and only if its state was written), and a background
task writes what has accumulated every `flush_s`, off the event loop, in one write per batch.
A process that dies loses its unwritten entries together with its states, which lived in the
same memory. Entries are JSON and carry no raw newline, so a line is one entry; a last line
without its newline is still being written and is read once it is whole.
The reader's position is a byte offset: the trainer's checkpoint holds it, which makes the
checkpoint itself the consumer group.
"""

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.events.log import EventReader, Record

logger = logging.getLogger(__name__)
SHARD = "file"
READ_BYTES = 1 << 20


class LocalEventFile:
    __slots__ = ("_failed", "_fd", "_pending")

    def __init__(self, path: Path, failed: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: list[bytes] = []
        self._failed = failed  # a prometheus Counter of entries that could not be written

    def add(self, entry: bytes) -> None:
        """Never blocks: the entry is written at the next flush."""
        self._pending.append(entry)

    async def run(self, flush_s: float) -> None:
        while True:
            await asyncio.sleep(flush_s)
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            # one write per batch: with O_APPEND, several workers' batches never interleave
            await asyncio.to_thread(os.write, self._fd, b"".join(e + b"\n" for e in batch))
        except OSError as error:
            self._failed.inc(len(batch))
            logger.error("%d events did not reach the event log file: %s", len(batch), error)

    async def close(self) -> None:
        await self.flush()
        os.close(self._fd)


class LocalEventReader(EventReader):
    __slots__ = ("_committed", "_offset", "_path")

    def __init__(self, path: Path, start: Mapping[str, str]) -> None:
        self._path = path
        self._offset = int(start.get(SHARD, "0"))
        self._committed = self._offset

    def read(self, limit: int) -> list[Record]:
        if not self._path.exists():
            return []
        records: list[Record] = []
        with self._path.open("rb") as f:
            f.seek(self._offset)
            while len(records) < limit:
                chunk = f.read(READ_BYTES)
                end = chunk.rfind(b"\n")
                if end < 0:
                    break  # nothing, or a line still being written
                for line in chunk[: end + 1].splitlines(keepends=True):
                    if len(records) == limit:
                        break
                    self._offset += len(line)
                    records.append(Record(SHARD, str(self._offset), line.rstrip(b"\n")))
                f.seek(self._offset)
        return records

    def commit(self, positions: Mapping[str, str]) -> None:
        """Nothing to tell the file: the checkpoint holding the offset is the commit."""
        self._committed = int(positions.get(SHARD, self._committed))

    def lag(self) -> int:
        if not self._path.exists():
            return 0
        with self._path.open("rb") as f:
            f.seek(self._committed)
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(READ_BYTES), b""))

    def close(self) -> None:
        """Nothing held open between reads."""
