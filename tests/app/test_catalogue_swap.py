"""The catalogue across a hot swap and a restart, on both stores: uploads keep serving (the one
the new bundle holds now as a trained item), takedowns stay down, sessions carry on; and
nothing is served before the log is read.

The second bundle is the tiny checkpoint exported again under another version, with one of
the uploads as a content-only item of its own (models/export.py `content_items`).
"""

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from loadtest.servers import free_port, redis_server
from models.export import export
from tests.app.test_faults import ready_within
from tests.app.test_hot_swap import point, wait_for_version
from tests.app.test_routes import assert_error, feed_items, swipe
from tests.conftest import TinyBundle

ADMIN = {"Authorization": "Bearer admin-secret"}
NEW = "tiny-test-uploads"
TRAINED_LATER = {"trained-later": "a dog learns to skate #pets"}


@pytest.fixture(scope="module")
def bundle_with_an_upload(
    tiny_bundle: TinyBundle, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("with-upload") / "bundle"
    export(tiny_bundle.checkpoint, path, version=NEW, n_clusters=8, content_items=TRAINED_LATER)
    return path


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


def change_catalogue(client: TestClient, taken_down: str) -> None:
    """Three uploads (one taken down again) and a bundle item taken down."""
    items = [
        {"item_id": "trained-later", "title": TRAINED_LATER["trained-later"]},
        {"item_id": "upload-only", "title": "a cat on a piano"},
        {"item_id": "gone", "title": "a prank"},
    ]
    assert client.post("/items", json={"items": items}, headers=ADMIN).status_code == 200
    for item_id in ("gone", taken_down):
        assert client.delete(f"/items/{item_id}", headers=ADMIN).status_code == 200


def assert_catalogue_serves(
    client: TestClient, taken_down: str, trained_source: str, sessions: str
) -> None:
    def looked_up(item_id: str) -> tuple[Any, Any]:
        body = client.get(f"/items/{item_id}").json()
        return body["source"], body["status"]

    assert looked_up("upload-only") == ("upload", "active")
    assert looked_up("trained-later") == (trained_source, "active")
    assert looked_up("gone") == ("upload", "removed")
    assert looked_up(taken_down) == ("bundle", "removed")
    for item_id in ("upload-only", "trained-later"):
        assert swipe(client, f"{sessions}-swiper", item_id).status_code == 200
    for item_id in ("gone", taken_down):
        assert swipe(client, f"{sessions}-swiper", item_id).status_code == 404
    served: set[str] = set()
    for n in range(20):
        params: dict[str, str | int] = {"session_id": f"{sessions}{n}", "count": 20}
        served |= set(feed_items(client.get("/feed", params=params)))
    assert not {"gone", taken_down} & served
    assert "upload-only" in served  # still in the new-item tier


def test_a_hot_swap_keeps_uploads_and_takedowns(
    tiny_bundle: TinyBundle, bundle_with_an_upload: Path, store_url: str | None, tmp_path: Path
) -> None:
    shutil.copytree(tiny_bundle.path, tmp_path / "v1")
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "v1")
    settings = Settings(
        bundle_dir=link,
        redis_url=store_url,
        bundle_poll_s=0.05,
        cursor_secret="test",
        admin_token="admin-secret",
    )
    items = list(tiny_bundle.data.vocab.item_ids)
    with TestClient(create_app(settings, np.random.default_rng(5))) as client:
        taken_down = feed_items(client.get("/feed", params={"session_id": "p"}))[0]
        change_catalogue(client, taken_down)
        assert_catalogue_serves(client, taken_down, "upload", sessions="before-swap")
        for item_id in ("upload-only", "trained-later", items[0]):
            swipe(client, "before", item_id)
        point(link, bundle_with_an_upload)
        wait_for_version(client, NEW)
        assert_catalogue_serves(client, taken_down, "bundle", sessions="after-swap")
        carried = swipe(client, "before", items[1]).json()
        assert (carried["seq"], carried["model_version"]) == (4, NEW)
        page = feed_items(client.get("/feed", params={"session_id": "before", "count": 50}))
        assert not {"upload-only", "trained-later", items[0], items[1]} & set(page)
        metrics = client.get("/metrics").text
        assert 'nextswipe_catalogue_items{source="upload",status="active"} 1.0' in metrics
        assert 'nextswipe_catalogue_items{source="bundle",status="removed"} 1.0' in metrics


def test_a_restart_replays_the_log(
    tiny_bundle: TinyBundle, store_url: str | None, tmp_path: Path
) -> None:
    settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=store_url,
        cursor_secret="test",
        admin_token="admin-secret",
        catalogue_path=tmp_path / "catalogue.log",  # the embedded store's; Redis holds its own
    )
    with TestClient(create_app(settings, np.random.default_rng(1))) as client:
        taken_down = feed_items(client.get("/feed", params={"session_id": "p"}))[0]
        change_catalogue(client, taken_down)
        rows_before = client.get("/metrics").text
    with TestClient(create_app(settings, np.random.default_rng(2))) as restarted:
        assert restarted.get("/readyz").status_code == 200
        assert_catalogue_serves(restarted, taken_down, "upload", sessions="restarted")
        position = "nextswipe_catalogue_position 5.0"
        assert position in rows_before
        assert position in restarted.get("/metrics").text


def test_nothing_is_served_before_the_log_is_read(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    """Redis down at startup: serving the bundle alone would serve its takedowns, so the feed
    and swipes answer 503 (and /readyz too) until the follower has read the log."""
    port = free_port()
    settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=f"redis://127.0.0.1:{port}/0",
        redis_socket_timeout_s=0.2,
        redis_connect_timeout_s=0.2,
        cursor_secret="test",
    )
    item_id = tiny_bundle.data.vocab.item_ids[0]
    with TestClient(create_app(settings)) as client:
        assert_error(
            client.get("/feed", params={"session_id": "s"}), 503, "state_store_unavailable"
        )
        assert_error(swipe(client, "s", item_id), 503, "state_store_unavailable")
        assert_error(client.get("/readyz"), 503, "state_store_unavailable")
        with redis_server(tmp_path, port):
            assert ready_within(client, 5.0)
            assert client.get("/feed", params={"session_id": "s"}).json()["degraded"] is False
