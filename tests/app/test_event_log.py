"""The event log: every applied swipe and every new page is appended once, on one Redis
server, on a Cluster and on the embedded store's file, and read back by the trainer's
reader from where its checkpoint says, as often as it restarts."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter
from redis.cluster import RedisCluster

from app.events.entries import PageEntry, SwipeEntry, decode_entry
from app.events.local_file import LocalEventReader
from app.events.log import EventReader, Record
from app.events.redis_streams import RedisEventAppender, RedisEventReader
from app.main import create_app
from app.redis_client import create_redis
from app.settings import Settings
from tests.app.test_routes import feed_items, swipe
from tests.conftest import TinyBundle

SHARDS = 3


def sync_client(url: str) -> Any:
    """A synchronous client for the trainer's side: one server or a whole Cluster."""
    if url.startswith("redis+cluster://"):
        first = urlsplit("redis://" + url.removeprefix("redis+cluster://").split(",")[0])
        return RedisCluster(host=first.hostname or "127.0.0.1", port=first.port or 6379)
    return redis.Redis.from_url(url)


def read_all(reader: EventReader) -> list[Record]:
    records: list[Record] = []
    while batch := reader.read(50):
        records.extend(batch)
    return records


def traffic(client: TestClient, item_ids: list[str]) -> dict[str, Any]:
    """Swipes (one retried, one unknown), two new pages and a replayed one."""
    for seq, item in enumerate(item_ids[:4], start=1):
        assert swipe(client, "s1", item, event_id=f"e{seq}", watch_ms=1000 * seq).status_code == 200
    assert swipe(client, "s1", item_ids[3], event_id="e4").json()["duplicate"]
    assert swipe(client, "s1", "no-such-item").status_code == 404
    assert swipe(client, "s2", item_ids[5]).status_code == 200
    first = client.get("/feed", params={"session_id": "s1", "count": 5})
    second = client.get("/feed", params={"session_id": "s1", "cursor": first.json()["next_cursor"]})
    again = client.get("/feed", params={"session_id": "s1", "cursor": first.json()["cursor"]})
    assert feed_items(again) == feed_items(first)
    return {"pages": [feed_items(first), feed_items(second)], "swiped": item_ids[:4]}


def check_entries(records: list[Record], sent: dict[str, Any], version: str) -> None:
    entries = [decode_entry(record.data) for record in records]
    swipes = [e for e in entries if isinstance(e, SwipeEntry)]
    pages = [e for e in entries if isinstance(e, PageEntry)]
    s1 = sorted((e for e in swipes if e.session_id == "s1"), key=lambda e: e.seq)
    assert [e.seq for e in s1] == [1, 2, 3, 4]  # the retry and the unknown item: not logged
    assert [e.item_id for e in s1] == sent["swiped"]
    assert [e.signals.watch_ms for e in s1] == [1000, 2000, 3000, 4000]
    assert all(0.0 < e.weight <= 1.0 and e.model_version == version for e in s1)
    assert [e.session_id for e in swipes].count("s2") == 1
    assert [list(p.item_ids) for p in sorted(pages, key=lambda p: p.number)] == sent["pages"]
    assert all(set(p.sources) <= {"model", "explore"} for p in pages)
    assert len(entries) == 7


@pytest.fixture
def redis_app(tiny_bundle: TinyBundle, server_url: str) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(
        bundle_dir=tiny_bundle.path, redis_url=server_url, cursor_secret="t", event_shards=SHARDS
    )
    with TestClient(create_app(settings, np.random.default_rng(0))) as client:
        yield client, server_url


def test_redis_logs_each_applied_swipe_and_new_page_once(
    redis_app: tuple[TestClient, str], tiny_bundle: TinyBundle
) -> None:
    client, url = redis_app
    sent = traffic(client, list(tiny_bundle.checkpoint["item_ids"]))
    reader = RedisEventReader(sync_client(url), "ns", SHARDS, {})
    records = read_all(reader)
    check_entries(records, sent, client.get("/readyz").json()["model_version"])
    assert {r.shard for r in records} <= {"0", "1", "2"}
    assert reader.lag() == len(records)  # read, not yet committed: still owed to the trainer
    reader.commit({r.shard: r.position for r in records})
    assert reader.lag() == 0


def test_a_restarted_reader_gets_what_its_checkpoint_lacks_and_nothing_else(
    redis_app: tuple[TestClient, str], tiny_bundle: TinyBundle
) -> None:
    client, url = redis_app
    items = list(tiny_bundle.checkpoint["item_ids"])
    for n in range(30):
        assert swipe(client, f"s{n % 7}", items[n % len(items)]).status_code == 200
    first = RedisEventReader(sync_client(url), "ns", SHARDS, {})
    delivered = first.read(12)  # delivered, then the trainer dies before any checkpoint ...
    checkpointed = delivered[:5]  # ... or after one holding the first five
    positions: dict[str, str] = {}
    for record in checkpointed:
        positions[record.shard] = record.position
    restarted = RedisEventReader(sync_client(url), "ns", SHARDS, positions)
    restarted.commit(positions)
    again = read_all(restarted)
    seen = {(r.shard, r.position) for r in checkpointed}
    assert not seen & {(r.shard, r.position) for r in again}  # nothing trained twice
    everything = {(r.shard, r.position) for r in checkpointed + again}
    assert len(everything) == 30  # nothing skipped


def test_a_failed_append_is_counted_not_raised() -> None:
    registry = CollectorRegistry()
    failed = Counter("failed", "test", registry=registry)
    dead = create_redis("redis://127.0.0.1:1", 0.1, 0.1, 1)
    appender = RedisEventAppender(dead, "ns", SHARDS, 100, failed)
    assert asyncio.run(appender.append("s1", b"{}")) is False
    assert registry.get_sample_value("failed_total") == 1


def test_the_embedded_store_writes_a_file_the_reader_follows(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    path = tmp_path / "events.log"
    settings = Settings(
        bundle_dir=tiny_bundle.path, cursor_secret="t", event_log_path=path, event_flush_s=0.01
    )
    with TestClient(create_app(settings, np.random.default_rng(0))) as client:
        sent = traffic(client, list(tiny_bundle.checkpoint["item_ids"]))
        version = client.get("/readyz").json()["model_version"]
    reader = LocalEventReader(path, {})
    records = read_all(reader)
    check_entries(records, sent, version)
    assert reader.lag() == len(records)  # read, not yet committed: still owed to the trainer
    reader.commit({records[1].shard: records[1].position})
    assert reader.lag() == len(records) - 2
    # a reader opened at a checkpoint's offset reads on from there, and waits for a whole line
    middle = records[2]
    rest = read_all(LocalEventReader(path, {middle.shard: middle.position}))
    assert [r.data for r in rest] == [r.data for r in records[3:]]
    with path.open("ab") as f:
        f.write(b'{"t":"swipe"')  # a line still being written
    assert LocalEventReader(path, {"file": records[-1].position}).read(10) == []
