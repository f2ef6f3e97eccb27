"""The catalogue log: one order of entries, on a real Redis (one server and a cluster) and in
the embedded store (in memory, and in its append-only file across a restart)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.catalogue.local_log import LocalCatalogueLog
from app.catalogue.log import CatalogueLog, RedisCatalogueLog
from app.errors import StateStoreUnavailable
from app.redis_client import create_redis
from loadtest.servers import free_port


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "file", "redis", "cluster"])
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CatalogueLog]:
    if request.param in ("memory", "file"):
        local = LocalCatalogueLog.open(tmp_path / "log" if request.param == "file" else None)
        yield local
        await local.close()
        return
    url: str = request.getfixturevalue(f"{request.param}_url")
    client = create_redis(url, 1.0, 1.0, 8)
    yield RedisCatalogueLog(client, "t")
    await client.aclose()


@pytest.mark.anyio
async def test_entries_keep_their_order_and_positions(log: CatalogueLog) -> None:
    assert await log.read(0, 10) == (0, [])
    assert await log.append([b"a", b"b"]) == 2
    assert await log.append([b"c"]) == 3
    assert await log.read(0, 10) == (3, [b"a", b"b", b"c"])
    assert await log.read(1, 1) == (3, [b"b"])
    assert await log.read(3, 10) == (3, [])
    with pytest.raises(ValueError, match="nothing"):
        await log.append([])


@pytest.mark.anyio
async def test_concurrent_appends_never_interleave(log: CatalogueLog) -> None:
    batches = [[f"{n}:{i}".encode() for i in range(5)] for n in range(8)]
    assert await log.read(0, 1) == (0, [])  # as the app's first command, before any concurrency
    ends = await asyncio.gather(*(log.append(batch) for batch in batches))
    _, entries = await log.read(0, 100)
    for batch, end in zip(batches, ends, strict=True):
        assert entries[end - 5 : end] == batch


@pytest.mark.anyio
async def test_the_file_is_read_back_and_a_torn_record_dropped(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.log"
    log = LocalCatalogueLog.open(path)
    await log.append([b"upload", b"takedown"])
    await log.close()
    with path.open("ab") as f:
        f.write(b"\x10\x00\x00\x00half")  # a record the crash cut short
    again = LocalCatalogueLog.open(path)
    assert await again.read(0, 10) == (2, [b"upload", b"takedown"])
    assert await again.append([b"more"]) == 3
    await again.close()
    last = LocalCatalogueLog.open(path)
    assert await last.read(0, 10) == (3, [b"upload", b"takedown", b"more"])
    await last.close()


@pytest.mark.anyio
async def test_an_unreachable_redis_is_store_unavailable() -> None:
    client = create_redis(f"redis://127.0.0.1:{free_port()}/0", 0.1, 0.1, 2)
    log = RedisCatalogueLog(client, "t")
    with pytest.raises(StateStoreUnavailable):
        await log.append([b"a"])
    with pytest.raises(StateStoreUnavailable):
        await log.read(0, 10)
    await client.aclose()
