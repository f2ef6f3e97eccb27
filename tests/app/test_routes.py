"""The HTTP contract of ../shared/docs/API.md, through HTTP with the lifespan running.

Every test runs against each session store: the embedded one, a real redis-server and a real
3-master Redis Cluster.
"""

import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from app.bundle import INDEX_FILE, BundleMismatch
from app.main import create_app
from app.settings import Settings
from loadtest.servers import free_port
from tests.conftest import TinyBundle


@pytest.fixture(params=["memory", "redis", "cluster"])
def settings(request: pytest.FixtureRequest, tiny_bundle: TinyBundle) -> Settings:
    redis_url: str | None = None
    if request.param != "memory":
        redis_url = request.getfixturevalue(f"{request.param}_url")  # redis_url, cluster_url
    # a shared CI machine pauses a Redis command now and then for longer than the service's
    # 0.25 s budget; the contract here is not the timeout (tests/app/test_faults.py is)
    return Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=redis_url,
        cursor_secret="test",
        redis_socket_timeout_s=2.0,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, rng=np.random.default_rng(7))) as test_client:
        yield test_client


@pytest.fixture
def item_ids(tiny_bundle: TinyBundle) -> list[str]:
    return list(tiny_bundle.data.vocab.item_ids)


def swipe(client: TestClient, session_id: str, item_id: str, **fields: Any) -> Response:
    response: Response = client.post(
        "/swipe", json={"session_id": session_id, "item_id": item_id, **fields}
    )
    return response


def assert_error(response: Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body: dict[str, str] = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert body["detail"]
    assert "Traceback" not in body["detail"]
    return body


def feed_items(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["item_id"] for item in response.json()["items"]]


def test_first_swipe_starts_a_session(client: TestClient, item_ids: list[str]) -> None:
    body = swipe(client, "s1", item_ids[0], watch_ms=15_000, duration_ms=15_000).json()
    assert body == {
        "session_id": "s1",
        "seq": 1,
        "weight": 1.0,
        "new_session": True,
        "duplicate": False,
        "model_version": "tiny-test",
    }
    second = swipe(client, "s1", item_ids[1], watch_ms=1_000).json()
    assert (second["seq"], second["new_session"]) == (2, False)
    assert second["weight"] == pytest.approx(0.05)  # a skip barely moves the state


def test_a_session_opened_by_a_feed_is_new_at_its_first_swipe_and_counted_once(
    client: TestClient, item_ids: list[str]
) -> None:
    """The normal client flow opens with a feed: the state exists before the first swipe."""
    assert client.get("/feed", params={"session_id": "s1", "count": 3}).status_code == 200
    first = swipe(client, "s1", item_ids[0]).json()
    assert (first["seq"], first["new_session"]) == (1, True)
    assert swipe(client, "s1", item_ids[1]).json()["new_session"] is False
    swipe(client, "s2", item_ids[0])  # opened by a swipe
    assert client.get("/feed", params={"session_id": "s2"}).status_code == 200
    assert "nextswipe_new_sessions_total 2.0" in client.get("/metrics").text


def test_retried_event_id_is_applied_once(client: TestClient, item_ids: list[str]) -> None:
    first = swipe(client, "s1", item_ids[0], event_id="e1").json()
    again = swipe(client, "s1", item_ids[0], event_id="e1").json()
    assert (again["seq"], again["duplicate"]) == (first["seq"], True)
    assert swipe(client, "s1", item_ids[1], event_id="e2").json()["seq"] == 2


def test_unknown_item_is_404_and_stores_nothing(client: TestClient, item_ids: list[str]) -> None:
    body = assert_error(swipe(client, "s1", "no-such-item"), 404, "unknown_item")
    assert "no-such-item" in body["detail"]
    assert swipe(client, "s1", item_ids[0]).json()["new_session"] is True


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        ({"item_id": "1"}, "session_id"),
        ({"session_id": "bad id!", "item_id": "1"}, "session_id"),
        ({"session_id": "x" * 129, "item_id": "1"}, "session_id"),
        ({"session_id": "s", "item_id": 1958}, "item_id"),
        ({"session_id": "s", "item_id": ""}, "item_id"),
        ({"session_id": "s", "item_id": "1", "watch_ms": -1}, "watch_ms"),
        ({"session_id": "s", "item_id": "1", "duration_ms": 0}, "duration_ms"),
        ({"session_id": "s", "item_id": "1", "replays": 1001}, "replays"),
        ({"session_id": "s", "item_id": "1", "liked": "yes"}, "liked"),
        ({"session_id": "s", "item_id": "1", "wach_ms": 10}, "wach_ms"),
    ],
)
def test_malformed_swipes_are_422(
    client: TestClient, payload: dict[str, Any], mentions: str
) -> None:
    body = assert_error(client.post("/swipe", json=payload), 422, "invalid_request")
    assert mentions in body["detail"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422(client: TestClient, number: str) -> None:
    raw = '{"session_id": "s", "item_id": "1", "watch_ms": ' + number + "}"
    response = client.post("/swipe", content=raw, headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_request")


def test_body_that_is_not_json_is_415(client: TestClient) -> None:
    response = client.post("/swipe", content="session_id=s", headers={"content-type": "text/plain"})
    assert_error(response, 415, "unsupported_media_type")


def test_broken_json_is_422(client: TestClient) -> None:
    response = client.post("/swipe", content="{", headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_request")


def test_oversized_body_is_413(client: TestClient) -> None:
    raw = json.dumps({"session_id": "s", "item_id": "1", "event_id": "e" * 20_000})
    response = client.post("/swipe", content=raw, headers={"content-type": "application/json"})
    assert_error(response, 413, "payload_too_large")


def test_cold_start_page(client: TestClient) -> None:
    response = client.get("/feed", params={"session_id": "new", "count": 10})
    body = response.json()
    assert [item["rank"] for item in body["items"]] == list(range(10))
    assert len(set(feed_items(response))) == 10
    assert {item["source"] for item in body["items"]} == {"model", "explore"}
    assert body["model_version"] == "tiny-test"
    assert body["cursor"] != body["next_cursor"]


def test_nothing_is_served_twice_nor_after_a_swipe(client: TestClient, item_ids: list[str]) -> None:
    swiped = item_ids[:5]
    for item_id in swiped:
        swipe(client, "s1", item_id)
    served: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, str | int] = {"session_id": "s1", "count": 20}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/feed", params=params)
        served += feed_items(response)
        cursor = response.json()["next_cursor"]
    assert len(served) == len(set(served)) == 100
    assert not set(served) & set(swiped)


def test_a_session_served_the_whole_catalogue_gets_the_least_recently_served_again(
    client: TestClient, item_ids: list[str]
) -> None:
    """Never a silent empty page: once nothing new is left, the oldest served come back,
    marked "recycled", oldest first, and then count as the most recently served."""
    assert swipe(client, "s1", item_ids[0]).status_code == 200
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    last = ""
    while len(pages) < 2 or not any(item["source"] == "recycled" for item in pages[-2]):
        params: dict[str, str | int] = {"session_id": "s1", "count": 100}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/feed", params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        last, cursor = response.json()["cursor"], response.json()["next_cursor"]
        assert len(pages) <= len(item_ids) // 100 + 4
    assert all(len(page) == 100 for page in pages)  # full, also when the catalogue ran out
    served = [item["item_id"] for page in pages for item in page]
    first = next(n for n, page in enumerate(pages) if page[-1]["source"] == "recycled")
    fresh = served[: 100 * first] + [
        item["item_id"] for item in pages[first] if item["source"] != "recycled"
    ]
    assert len(fresh) == len(set(fresh)) == len(item_ids) - 1  # all but the swiped one, once
    recycled = [item["item_id"] for item in pages[first] if item["source"] == "recycled"]
    assert recycled == fresh[: len(recycled)]  # the least recently served first
    after = [item["item_id"] for item in pages[first + 1]]
    assert after == fresh[len(recycled) : len(recycled) + 100]  # and not the same ones again
    assert all(item["score"] == 0.0 for item in pages[first + 1])
    replayed = client.get("/feed", params={"session_id": "s1", "count": 100, "cursor": last})
    assert replayed.json()["items"] == pages[-1]  # a recycled page replays as it was


def test_the_popularity_feed_ranks_by_popularity_whatever_the_session_did(
    tiny_bundle: TinyBundle, item_ids: list[str]
) -> None:
    """NEXTSWIPE_FEED_RANKING=popular, the A/B's baseline: a session's swipes only exclude."""
    settings = Settings(
        bundle_dir=tiny_bundle.path, feed_ranking="popular", explore_share=0.0, cursor_secret="t"
    )
    with TestClient(create_app(settings, rng=np.random.default_rng(7))) as client:
        popular = feed_items(client.get("/feed", params={"session_id": "cold", "count": 13}))
        swiped = item_ids[-3:]
        for item_id in swiped:
            swipe(client, "warm", item_id)
        page = feed_items(client.get("/feed", params={"session_id": "warm", "count": 10}))
    assert page == [item for item in popular if item not in swiped][:10]
    with pytest.raises(ValueError, match="feed_ranking"):
        Settings(feed_ranking="random")


def test_same_cursor_same_page_and_swipes_change_the_next(
    client: TestClient, item_ids: list[str]
) -> None:
    swipe(client, "s1", item_ids[0])
    first = client.get("/feed", params={"session_id": "s1"}).json()
    replay = client.get("/feed", params={"session_id": "s1", "cursor": first["cursor"]}).json()
    assert replay == first
    for item in first["items"][:3]:
        swipe(client, "s1", item["item_id"], watch_ms=20_000, duration_ms=20_000)
    params = {"session_id": "s1", "cursor": first["next_cursor"]}
    second = client.get("/feed", params=params).json()
    assert second["cursor"] == first["next_cursor"]
    assert not set(feed_items_of(second)) & set(feed_items_of(first))
    assert client.get("/feed", params=params).json() == second  # a retry replays it


def feed_items_of(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_tampered_or_foreign_cursor_is_400(client: TestClient) -> None:
    page = client.get("/feed", params={"session_id": "s1"}).json()
    tampered = page["cursor"][:-1] + ("A" if page["cursor"][-1] != "A" else "B")
    for session_id, cursor in [("s1", tampered), ("s2", page["cursor"]), ("s1", "garbage")]:
        response = client.get("/feed", params={"session_id": session_id, "cursor": cursor})
        assert_error(response, 400, "invalid_cursor")


@pytest.mark.parametrize(
    "params",
    [{"session_id": "s", "count": 0}, {"session_id": "s", "count": 101}, {"session_id": "a b"}, {}],
)
def test_malformed_feed_requests_are_422(client: TestClient, params: dict[str, Any]) -> None:
    assert_error(client.get("/feed", params=params), 422, "invalid_request")


def test_fifty_concurrent_swipes_of_one_session(client: TestClient, item_ids: list[str]) -> None:
    items = item_ids[:50]
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda item: swipe(client, "busy", item), items))
    assert sorted(r.json()["seq"] for r in responses) == list(range(1, 51))
    served: list[str] = []
    for _ in range(3):
        served += feed_items(client.get("/feed", params={"session_id": "busy", "count": 50}))
    assert not set(served) & set(items)  # all 50 swipes were recorded as seen


def test_exploration_reward_reaches_the_metrics(client: TestClient) -> None:
    page = client.get("/feed", params={"session_id": "s1", "count": 10}).json()
    explored = [item["item_id"] for item in page["items"] if item["source"] == "explore"]
    assert explored
    swipe(client, "s1", explored[0], watch_ms=10_000, duration_ms=10_000)
    metrics = client.get("/metrics").text
    assert "nextswipe_explore_rewards_total 1.0" in metrics
    assert f"nextswipe_explore_impressions_total {float(len(explored))}" in metrics


def test_health_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "model_version": "tiny-test"}
    client.get("/feed", params={"session_id": "s1"})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    for stage in ("state_read", "state_write", "search", "filtering", "exploration"):
        assert f'nextswipe_stage_seconds_count{{stage="{stage}"}}' in metrics.text
    assert client.get("/docs").status_code == 200


def test_unknown_route_is_404_json(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found")


def test_responses_are_counted_by_route_and_status(client: TestClient, item_ids: list[str]) -> None:
    assert swipe(client, "s1", item_ids[0]).status_code == 200
    assert swipe(client, "s1", "no-such-item").status_code == 404
    assert (
        client.post("/swipe", content=b"x", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    for path in ("/nope", "/also-nope"):
        assert client.get(path).status_code == 404
    metrics = client.get("/metrics").text
    assert 'nextswipe_responses_total{route="/swipe",status="200"} 1.0' in metrics
    assert 'nextswipe_responses_total{route="/swipe",status="404"} 1.0' in metrics
    assert 'nextswipe_responses_total{route="/swipe",status="415"} 1.0' in metrics
    assert 'nextswipe_responses_total{route="other",status="404"} 2.0' in metrics


def test_bearer_token(settings: Settings, item_ids: list[str]) -> None:
    with TestClient(create_app(replace(settings, auth_token="sesame"))) as client:
        assert_error(swipe(client, "s1", item_ids[0]), 401, "unauthorized")
        assert_error(client.get("/feed", params={"session_id": "s1"}), 401, "unauthorized")
        headers = {"Authorization": "Bearer sesame"}
        payload = {"session_id": "s1", "item_id": item_ids[0]}
        assert client.post("/swipe", json=payload, headers=headers).status_code == 200
        wrong = {"Authorization": "Bearer sesamE"}
        assert_error(client.post("/swipe", json=payload, headers=wrong), 401, "unauthorized")
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_session_expires_after_idle_ttl(settings: Settings, item_ids: list[str]) -> None:
    with TestClient(create_app(replace(settings, session_ttl_s=1))) as client:
        swipe(client, "s1", item_ids[0])
        assert swipe(client, "s1", item_ids[1]).json()["new_session"] is False
        time.sleep(1.2)
        assert swipe(client, "s1", item_ids[2]).json()["new_session"] is True


def test_tampered_bundle_refuses_to_start(
    settings: Settings, tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    bundle = Path(shutil.copytree(tiny_bundle.path, tmp_path / "bundle"))
    with (bundle / INDEX_FILE).open("ab") as f:
        f.write(b"\0")
    app = create_app(replace(settings, bundle_dir=bundle))
    with pytest.raises(BundleMismatch, match="items.faiss"), TestClient(app):
        pass


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
def test_unreachable_redis_is_503_with_retry_after(
    tiny_bundle: TinyBundle, item_ids: list[str], scheme: str
) -> None:
    closed_port = free_port()  # nothing listens there
    settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=f"{scheme}://127.0.0.1:{closed_port}/0",
        redis_socket_timeout_s=0.1,
        redis_connect_timeout_s=0.1,
    )
    with TestClient(create_app(settings)) as client:
        response = swipe(client, "s1", item_ids[0], event_id="e1")
        assert_error(response, 503, "state_store_unavailable")
        assert response.headers["retry-after"] == "1"
        assert_error(client.get("/readyz"), 503, "state_store_unavailable")
        assert client.get("/healthz").status_code == 200  # alive, just not ready
