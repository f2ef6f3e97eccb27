"""LocalCatalogueLog: the embedded store's catalogue log, in this process and optionally on disk.

Without a path the log lives and dies with the process, like the embedded session store. With
`catalogue_path` every append also goes to an append-only file (each entry a 4-byte length and
its bytes, flushed and fsynced before the append returns), read back at startup, so that
uploads and takedowns survive a restart. A record cut short by a crash is dropped then.
"""

import asyncio
import logging
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from app.catalogue.log import CatalogueLog

logger = logging.getLogger(__name__)
_LENGTH = struct.Struct("<I")


def parse_records(data: bytes) -> tuple[list[bytes], int]:
    """The whole records of a log file's bytes, and the offset after the last one."""
    entries, offset = [], 0
    while offset + _LENGTH.size <= len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        if offset + _LENGTH.size + length > len(data):
            break
        entries.append(data[offset + _LENGTH.size : offset + _LENGTH.size + length])
        offset += _LENGTH.size + length
    return entries, offset


class LocalCatalogueLog(CatalogueLog):
    __slots__ = ("_entries", "_file", "_lock")

    def __init__(self, entries: list[bytes] | None = None, file: BinaryIO | None = None) -> None:
        self._entries = entries or []
        self._file = file
        self._lock = asyncio.Lock()  # appends reach the file one request at a time, in order

    @classmethod
    def open(cls, path: Path | None) -> "LocalCatalogueLog":
        """The log kept in `path` (created if absent), or one in memory only for None."""
        if path is None:
            return cls()
        path.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes() if path.exists() else b""
        entries, offset = parse_records(data)
        file = path.open("r+b" if path.exists() else "w+b")
        if offset < len(data):
            logger.warning(
                "%s ends in a record cut short (%d bytes): dropped", path, len(data) - offset
            )
            file.truncate(offset)
        file.seek(offset)
        return cls(entries, file)

    async def append(self, entries: Sequence[bytes]) -> int:
        if not entries:
            raise ValueError("nothing to append")
        async with self._lock:
            if self._file is not None:  # durable before it is visible
                await asyncio.to_thread(self._write, entries)
            self._entries.extend(entries)
            return len(self._entries)

    async def read(self, after: int, limit: int) -> tuple[int, list[bytes]]:
        return len(self._entries), self._entries[after : after + limit]

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _write(self, entries: Sequence[bytes]) -> None:
        assert self._file is not None
        self._file.write(b"".join(_LENGTH.pack(len(entry)) + entry for entry in entries))
        self._file.flush()
        os.fsync(self._file.fileno())
