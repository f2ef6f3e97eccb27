"""The catalogue's HTTP contract (../shared/docs/API.md "The catalogue", "Authentication"):
uploads, takedowns and lookups through HTTP with the lifespan running, on the embedded store
and on a real redis-server."""

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from app.main import create_app
from app.settings import Settings
from tests.app.test_routes import assert_error, feed_items, swipe
from tests.conftest import TinyBundle

ADMIN = "admin-secret"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(params=["memory", "redis"])
def settings(request: pytest.FixtureRequest, tiny_bundle: TinyBundle) -> Settings:
    redis_url: str | None = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
    return Settings(
        bundle_dir=tiny_bundle.path, redis_url=redis_url, cursor_secret="test", admin_token=ADMIN
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, rng=np.random.default_rng(7))) as test_client:
        yield test_client


@pytest.fixture
def item_ids(tiny_bundle: TinyBundle) -> list[str]:
    return list(tiny_bundle.data.vocab.item_ids)


def post_items(
    client: TestClient, items: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> Response:
    response: Response = client.post(
        "/items", json={"items": items}, headers=AS_ADMIN if headers is None else headers
    )
    return response


def statuses(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["status"] for item in response.json()["items"]]


def item(client: TestClient, item_id: str) -> dict[str, Any]:
    response = client.get(f"/items/{item_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_start}")


def fresh_pages(client: TestClient, sessions: int, prefix: str, count: int = 10) -> list[str]:
    """The first page of `sessions` new sessions, all their items."""
    served: list[str] = []
    for n in range(sessions):
        served += feed_items(
            client.get("/feed", params={"session_id": f"{prefix}{n}", "count": count})
        )
    return served


def test_statuses_and_catalogue_versions(client: TestClient, item_ids: list[str]) -> None:
    first = post_items(client, [{"item_id": "a", "title": "cat"}, {"item_id": "b", "title": "x"}])
    assert statuses(first) == ["added", "added"]
    assert first.json()["catalogue_version"] == 2
    again = post_items(
        client,
        [
            {"item_id": "a", "title": "cat", "duration_ms": 9000, "created_ms": 1},
            {"item_id": "b", "title": "y"},
            {"item_id": item_ids[0], "title": "a bundle item"},
        ],
    )
    assert statuses(again) == ["unchanged", "updated", "known"]
    assert again.json()["catalogue_version"] == 3  # only b's update was logged
    assert [entry["item_id"] for entry in again.json()["items"]] == ["a", "b", item_ids[0]]
    assert item(client, "a") == {
        "item_id": "a",
        "source": "upload",
        "status": "active",
        "impressions": 0,
    }
    assert item(client, item_ids[0]) == {
        "item_id": item_ids[0],
        "source": "bundle",
        "status": "active",
        "impressions": None,
    }
    assert_error(client.get("/items/never"), 404, "unknown_item")
    assert metric(client, 'nextswipe_catalogue_uploads_total{status="added"}') == 2
    assert metric(client, "nextswipe_catalogue_position") == 3
    assert metric(client, 'nextswipe_catalogue_items{source="upload",status="active"}') == 2


def test_an_upload_is_swiped_and_served_at_once(client: TestClient) -> None:
    assert statuses(post_items(client, [{"item_id": "fresh", "title": "a cat on a piano"}])) == [
        "added"
    ]
    body = swipe(client, "swiper", "fresh", watch_ms=8000, duration_ms=10_000).json()
    assert (body["seq"], body["weight"]) == (1, pytest.approx(0.8))
    page = client.get("/feed", params={"session_id": "viewer", "count": 10}).json()
    explored = [entry for entry in page["items"] if entry["item_id"] == "fresh"]
    assert [entry["source"] for entry in explored] == ["explore"]  # the new-item tier's slot
    assert item(client, "fresh")["impressions"] == 1
    assert metric(client, "nextswipe_new_item_impressions_total") == 1
    # a swipe on the explored upload credits its posterior; the session goes on from it
    swiped = swipe(client, "viewer", "fresh", watch_ms=10_000, duration_ms=10_000).json()
    assert swiped["seq"] == 1
    assert metric(client, "nextswipe_explore_rewards_total") == 1.0
    assert "fresh" not in feed_items(client.get("/feed", params={"session_id": "viewer"}))


def test_a_taken_down_item_is_never_served_nor_swiped(
    client: TestClient, item_ids: list[str]
) -> None:
    post_items(client, [{"item_id": "doomed", "title": "a prank"}])
    popular = feed_items(client.get("/feed", params={"session_id": "before"}))[0]
    assert "doomed" in fresh_pages(client, 1, "warm")
    for item_id in ("doomed", popular):
        response = client.delete(f"/items/{item_id}", headers=AS_ADMIN)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "removed"
        assert item(client, item_id)["status"] == "removed"
        assert_error(swipe(client, "s1", item_id), 404, "unknown_item")
    assert swipe(client, "s1", item_ids[-1]).json()["new_session"] is True  # nothing stored
    for n in range(20):
        session_id, cursor = f"after{n}", None
        for _ in range(3):
            params: dict[str, Any] = {"session_id": session_id, "count": 20}
            if cursor:
                params["cursor"] = cursor
            response = client.get("/feed", params=params)
            assert not {"doomed", popular} & set(feed_items(response))
            cursor = response.json()["next_cursor"]
        swipe(client, session_id, item_ids[n])  # personalised pages too
    again = client.delete("/items/doomed", headers=AS_ADMIN)
    assert (again.status_code, again.json()["status"]) == (200, "removed")
    assert_error(client.delete("/items/never-had-it", headers=AS_ADMIN), 404, "unknown_item")
    assert metric(client, "nextswipe_catalogue_takedowns_total") == 3
    assert metric(client, 'nextswipe_catalogue_items{source="bundle",status="removed"}') == 1


def test_a_replayed_page_drops_what_was_taken_down_since(client: TestClient) -> None:
    page = client.get("/feed", params={"session_id": "s1", "count": 10}).json()
    doomed = page["items"][2]["item_id"]
    client.delete(f"/items/{doomed}", headers=AS_ADMIN)
    replay = client.get("/feed", params={"session_id": "s1", "cursor": page["cursor"]}).json()
    expected = [entry["item_id"] for entry in page["items"] if entry["item_id"] != doomed]
    assert [entry["item_id"] for entry in replay["items"]] == expected


def test_uploading_a_taken_down_item_restores_it(client: TestClient, item_ids: list[str]) -> None:
    post_items(client, [{"item_id": "back", "title": "comeback"}])
    for item_id in ("back", item_ids[0]):
        client.delete(f"/items/{item_id}", headers=AS_ADMIN)
    restored = post_items(
        client,
        [{"item_id": "back", "title": "comeback"}, {"item_id": item_ids[0], "title": "k"}],
    )
    assert statuses(restored) == ["added", "known"]
    for item_id in ("back", item_ids[0]):
        assert item(client, item_id)["status"] == "active"
        assert swipe(client, "s1", item_id).status_code == 200
    assert "back" in fresh_pages(client, 1, "viewer")


@pytest.mark.parametrize(("item_id", "in_path"), [("clips/42", "clips%2F42"), ("a\nb", "a%0Ab")])
def test_an_item_id_with_a_slash_or_a_line_break_is_one_id(
    client: TestClient, item_id: str, in_path: str
) -> None:
    """Found by `st run` (schemathesis' stateful phase): an id with a line break was stored,
    then every GET and DELETE of it missed the route (404 not_found)."""
    post_items(client, [{"item_id": item_id, "title": "t"}])
    assert item(client, in_path)["item_id"] == item_id
    assert client.delete(f"/items/{in_path}", headers=AS_ADMIN).json()["item_id"] == item_id
    assert item(client, in_path)["status"] == "removed"


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        ({"items": []}, "items"),
        ({"items": [{"item_id": f"i{n}", "title": "t"} for n in range(1001)]}, "1000"),
        (
            {"items": [{"item_id": "ok", "title": "t"}, {"item_id": "bad", "title": ""}]},
            "items.1.title (item 'bad')",
        ),
        ({"items": [{"item_id": "ok", "title": "t" * 2001}]}, "items.0.title (item 'ok')"),
        ({"items": [{"item_id": "", "title": "t"}]}, "items.0.item_id"),
        ({"items": [{"item_id": "x" * 129, "title": "t"}]}, "items.0.item_id"),
        ({"items": [{"item_id": 1958, "title": "t"}]}, "items.0.item_id"),
        ({"items": [{"item_id": "ok"}]}, "items.0.title (item 'ok')"),
        ({"items": [{"item_id": "ok", "titel": "t"}]}, "titel"),
        ({"items": [{"item_id": "ok", "title": "t"}], "extra": 1}, "extra"),
        ({"items": [{"item_id": "ok", "title": "t", "duration_ms": 0}]}, "duration_ms"),
        ({"items": [{"item_id": "ok", "title": "t", "duration_ms": "5"}]}, "duration_ms"),
        ({"items": [{"item_id": "ok", "title": "t", "created_ms": -1}]}, "created_ms"),
        ({"items": {"item_id": "ok", "title": "t"}}, "items"),
        ({}, "items"),
    ],
)
def test_an_upload_with_any_invalid_item_is_refused_whole(
    client: TestClient, payload: dict[str, Any], mentions: str
) -> None:
    body = assert_error(
        client.post("/items", json=payload, headers=AS_ADMIN), 422, "invalid_request"
    )
    assert mentions in body["detail"]
    assert_error(client.get("/items/ok"), 404, "unknown_item")
    assert metric(client, "nextswipe_catalogue_position") == 0


def test_bodies_that_are_not_an_upload(client: TestClient) -> None:
    headers = {**AS_ADMIN, "content-type": "application/json"}
    assert_error(client.post("/items", content="{", headers=headers), 422, "invalid_request")
    plain = {**AS_ADMIN, "content-type": "text/plain"}
    assert_error(client.post("/items", content="x", headers=plain), 415, "unsupported_media_type")
    huge = json.dumps({"items": [{"item_id": "a", "title": "t" * 5_000_000}]})
    assert_error(client.post("/items", content=huge, headers=headers), 413, "payload_too_large")
    assert metric(client, "nextswipe_catalogue_position") == 0


def test_a_thousand_items_of_full_length_titles_fit_in_one_upload(client: TestClient) -> None:
    words = "word #tag "
    items = [{"item_id": f"bulk-{n}", "title": (f"{n} " + words * 200)[:2000]} for n in range(1000)]
    response = post_items(client, items)
    assert statuses(response) == ["added"] * 1000
    assert response.json()["catalogue_version"] == 1000
    assert item(client, "bulk-999")["source"] == "upload"
    big_swipe = {"session_id": "s", "item_id": "bulk-1", "event_id": "e" * 20_000}
    assert_error(client.post("/swipe", json=big_swipe), 413, "payload_too_large")  # 16 KiB


def test_the_admin_token_guards_every_change(settings: Settings, item_ids: list[str]) -> None:
    upload = [{"item_id": "a", "title": "t"}]
    with TestClient(create_app(replace(settings, admin_token=None))) as disabled:
        assert_error(post_items(disabled, upload), 403, "admin_disabled")
        assert_error(disabled.delete(f"/items/{item_ids[0]}"), 403, "admin_disabled")
        assert disabled.get(f"/items/{item_ids[0]}").status_code == 200
    guarded = replace(settings, auth_token="client-token")
    with TestClient(create_app(guarded)) as client:
        client_token = {"Authorization": "Bearer client-token"}
        for headers in ({}, {"Authorization": "Bearer admin-secreT"}, client_token):
            assert_error(post_items(client, upload, headers), 401, "unauthorized")
            response = client.delete(f"/items/{item_ids[0]}", headers=headers)
            assert_error(response, 401, "unauthorized")
        # reading takes a reader's token: the client's, or the admin's
        assert_error(client.get(f"/items/{item_ids[0]}"), 401, "unauthorized")
        assert (
            client.get(f"/items/{item_ids[0]}", headers=client_token).json()["status"] == "active"
        )
        assert_error(client.get("/items/a", headers=AS_ADMIN), 404, "unknown_item")  # not stored
        assert post_items(client, upload).status_code == 200
        assert client.get("/items/a", headers=client_token).json()["source"] == "upload"


def test_an_admin_token_equal_to_the_client_token_refuses_to_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="admin_token must differ from auth_token"):
        replace(settings, auth_token=ADMIN)


def test_item_routes_count_under_one_label(client: TestClient) -> None:
    for item_id in ("x", "y", "z"):
        assert client.get(f"/items/{item_id}").status_code == 404
    post_items(client, [{"item_id": "a", "title": "t"}])
    metrics = client.get("/metrics").text
    assert 'nextswipe_responses_total{route="/items/{item_id}",status="404"} 3.0' in metrics
    assert 'nextswipe_responses_total{route="/items",status="200"} 1.0' in metrics
