"""Redis stops while the service runs, then comes back: a real redis-server, stopped and
started again on the same port, and one app that is never restarted."""

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from httpx2 import Response

from app.errors import StateStoreUnavailable
from app.main import create_app
from app.redis_client import create_redis
from app.session.store import RedisSessionStore
from app.settings import Settings
from loadtest.servers import free_port, redis_server
from tests.conftest import TinyBundle


def swipe(client: TestClient, session_id: str, item_id: str, event_id: str) -> Response:
    body = {"session_id": session_id, "item_id": item_id, "event_id": event_id, "watch_ms": 9000}
    response: Response = client.post("/swipe", json=body)
    return response


def ready_within(client: TestClient, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return True
        time.sleep(0.05)
    return False


def test_the_service_degrades_while_redis_is_down_and_recovers_by_itself(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    items = list(tiny_bundle.data.vocab.item_ids)
    port = free_port()
    for directory in ("before", "after"):
        (tmp_path / directory).mkdir()
    with ExitStack() as stack:
        first_redis = ExitStack()
        url = first_redis.enter_context(redis_server(tmp_path / "before", port))
        settings = Settings(
            bundle_dir=tiny_bundle.path,
            redis_url=url,
            redis_socket_timeout_s=0.2,
            redis_connect_timeout_s=0.2,
            cursor_secret="test",
        )
        client = stack.enter_context(TestClient(create_app(settings, np.random.default_rng(3))))
        assert swipe(client, "s1", items[0], "e1").json()["seq"] == 1
        assert client.get("/feed", params={"session_id": "s1"}).json()["degraded"] is False

        first_redis.close()  # Redis stops; the service keeps running
        refused = swipe(client, "s1", items[1], "e2")
        assert refused.status_code == 503
        assert refused.json()["error"] == "state_store_unavailable"
        assert refused.headers["retry-after"] == "1"
        page = client.get("/feed", params={"session_id": "s1", "count": 8})
        assert page.status_code == 200
        body = page.json()
        assert body["degraded"] is True
        assert len(body["items"]) == 8  # popularity plus exploration, still a full page
        assert {item["source"] for item in body["items"]} == {"model", "explore"}
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200

        stack.enter_context(redis_server(tmp_path / "after", port))  # back, empty
        assert ready_within(client, 5.0)
        again = swipe(client, "s1", items[1], "e2").json()
        # Redis came back without the lost session: a new one starts, the copy this process
        # kept of the old one is not written back over it
        assert (again["seq"], again["new_session"]) == (1, True)
        page = client.get("/feed", params={"session_id": "s1"}).json()
        assert page["degraded"] is False
        assert items[1] not in [item["item_id"] for item in page["items"]]
        metrics = client.get("/metrics").text
        assert "nextswipe_degraded_pages_total 1.0" in metrics


def test_after_a_restart_one_failed_command_clears_every_stale_pooled_connection(
    tmp_path: Path,
) -> None:
    """Pooled connections opened before a Redis restart point at the old process; each used
    to fail once when next handed out, long after Redis was back."""
    port = free_port()
    for directory in ("before", "after"):
        (tmp_path / directory).mkdir()

    async def run() -> list[bool]:
        client = create_redis(f"redis://127.0.0.1:{port}/0", 0.5, 0.5, max_connections=8)
        store = RedisSessionStore(client, "ns", 60.0)
        with redis_server(tmp_path / "before", port):
            await asyncio.gather(*(store.read(f"s{i}") for i in range(8)))  # 8 connections
        with redis_server(tmp_path / "after", port):
            outcomes = []
            for i in range(16):
                try:
                    await store.read(f"s{i}")
                    outcomes.append(True)
                except StateStoreUnavailable:
                    outcomes.append(False)
        await client.aclose()
        return outcomes

    outcomes = asyncio.run(run())
    assert outcomes[1:] == [True] * 15  # at most the first command meets a stale connection
