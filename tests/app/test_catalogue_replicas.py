"""Two app instances on one real redis-server, as two replicas: what one changes in the
catalogue, the other serves (or stops serving) within 1 second of the 200."""

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.test_routes import feed_items, swipe
from tests.conftest import TinyBundle

ADMIN = {"Authorization": "Bearer admin-secret"}
WITHIN_S = 1.0


@pytest.fixture
def replicas(tiny_bundle: TinyBundle, server_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=server_url,
        cursor_secret="test",
        admin_token="admin-secret",
        bandit_sync_s=0.1,
    )
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(TestClient(create_app(settings, np.random.default_rng(seed))))
            for seed in (1, 2)
        )
        yield first, second


def first_time(check: Callable[[], bool], deadline: float) -> float | None:
    """When `check` first held, polling until `deadline` (monotonic); None if it never did."""
    while True:
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def test_an_upload_through_one_is_swiped_and_served_through_the_other(
    replicas: tuple[TestClient, TestClient],
) -> None:
    first, second = replicas
    response = first.post(
        "/items", json={"items": [{"item_id": "fresh", "title": "a cat"}]}, headers=ADMIN
    )
    assert response.status_code == 200
    deadline = time.monotonic() + WITHIN_S
    assert first_time(lambda: swipe(second, "s-b", "fresh").status_code == 200, deadline)
    viewers = iter(range(1000))

    def served_to_a_new_session() -> bool:
        page = second.get("/feed", params={"session_id": f"viewer{next(viewers)}"})
        return "fresh" in feed_items(page)

    assert first_time(served_to_a_new_session, deadline)
    assert second.get("/items/fresh").json()["source"] == "upload"
    # the impressions served by the second replica reach the first one's counts
    assert first_time(
        lambda: first.get("/items/fresh").json()["impressions"] >= 1, time.monotonic() + 2.0
    )


def test_a_takedown_through_one_is_never_served_by_the_other_after_a_second(
    replicas: tuple[TestClient, TestClient], tiny_bundle: TinyBundle
) -> None:
    first, second = replicas
    first.post("/items", json={"items": [{"item_id": "doomed", "title": "a prank"}]}, headers=ADMIN)
    deadline = time.monotonic() + WITHIN_S
    assert first_time(
        lambda: "doomed" in feed_items(second.get("/feed", params={"session_id": "w"})), deadline
    )
    popular = feed_items(second.get("/feed", params={"session_id": "p"}))[0]
    for item_id in ("doomed", popular):
        assert first.delete(f"/items/{item_id}", headers=ADMIN).status_code == 200
    grace_ends = time.monotonic() + WITHIN_S

    # the second replica says so within the second, and serves neither from then on
    def both_removed() -> bool:
        items = [second.get(f"/items/{item_id}").json() for item_id in ("doomed", popular)]
        return all(item["status"] == "removed" for item in items)

    assert first_time(both_removed, grace_ends)
    for n in range(30):
        page = feed_items(second.get("/feed", params={"session_id": f"after{n}", "count": 20}))
        assert not {"doomed", popular} & set(page)
    assert swipe(second, "s-b", "doomed").status_code == 404
    assert swipe(second, "s-b", popular).status_code == 404
    # an upload row means the same item on both: seen through one, never served by the other
    items = tiny_bundle.data.vocab.item_ids
    second.post("/items", json={"items": [{"item_id": "later", "title": "t"}]}, headers=ADMIN)
    swipe(first, "mixed", items[0])
    assert first_time(
        lambda: swipe(first, "mixed", "later").status_code == 200, time.monotonic() + WITHIN_S
    )
    page = second.get("/feed", params={"session_id": "mixed", "count": 30}).json()
    assert "later" not in [entry["item_id"] for entry in page["items"]]


def test_a_page_another_replica_built_further_on_in_the_log_is_replayed(
    tiny_bundle: TinyBundle, redis_url: str
) -> None:
    """The second replica polls too rarely to know the upload yet; replaying a page the first
    built with it makes the second catch up rather than fail to name the item."""
    settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=redis_url,
        cursor_secret="test",
        admin_token="admin-secret",
    )
    with (
        TestClient(create_app(settings)) as first,
        TestClient(create_app(replace(settings, catalogue_poll_s=600.0))) as second,
    ):
        first.post("/items", json={"items": [{"item_id": "fresh", "title": "t"}]}, headers=ADMIN)
        page = first.get("/feed", params={"session_id": "s", "count": 10}).json()
        assert "fresh" in [entry["item_id"] for entry in page["items"]]
        assert swipe(second, "other", "fresh").status_code == 404  # not applied there yet
        replay = second.get("/feed", params={"session_id": "s", "cursor": page["cursor"]})
        assert replay.json()["items"] == page["items"]
        assert swipe(second, "other", "fresh").status_code == 200
