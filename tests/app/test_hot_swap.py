"""Hot swap over HTTP: a new bundle version at the watched path is served without a restart,
while threads keep sending swipes and feeds, on both session stores.

The second bundle is the tiny checkpoint exported again under another version, so the
catalogue is the same and every live session is carried over (test_migrate.py maps rows
between different catalogues).
"""

import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import watcher
from app.bundle import INDEX_FILE
from app.main import create_app
from app.model import ServingModel
from app.settings import Settings
from app.watcher import load_bundle
from models.export import export
from tests.conftest import TinyBundle

OLD, NEW = "tiny-test", "tiny-test-2"
POLL_S = 0.05
SESSION_TURNS = 20  # swipe + page rounds per session before a worker starts another one


@pytest.fixture(scope="module")
def second_bundle(tiny_bundle: TinyBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("second") / "bundle"
    export(tiny_bundle.checkpoint, path, version=NEW, n_clusters=8)
    return path


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None: the embedded store; else a real redis-server's URL."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@dataclass(frozen=True, slots=True)
class Reply:
    started: float  # time.monotonic() when the request was sent
    status: int
    model_version: str | None


@dataclass
class Traffic:
    """Worker threads sending a swipe then a feed request, session after session, until
    stopped; every reply is recorded, and so is any item a session was shown twice and any
    exception a worker met."""

    client: TestClient
    items: list[str]
    workers: int = 4
    replies: list[Reply] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def versions(self) -> set[str | None]:
        return {reply.model_version for reply in self.replies}

    @contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self._work, args=(n,)) for n in range(self.workers)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()

    def _work(self, worker: int) -> None:
        try:
            self._sessions(worker)
        except Exception as error:  # reported by the test, not lost with the thread
            self.errors.append(repr(error))

    def _sessions(self, worker: int) -> None:
        rng = random.Random(worker)
        turn = 0
        shown: set[str] = set()  # swiped or served in the current session
        while not self._stop.is_set():
            session_id = f"w{worker}-{turn // SESSION_TURNS}"
            if turn % SESSION_TURNS == 0:
                shown = set()
            item_id = rng.choice(self.items)
            body = {"session_id": session_id, "item_id": item_id, "watch_ms": 9000}
            self._send("POST", "/swipe", json=body)
            shown.add(item_id)
            page = self._send("GET", "/feed", params={"session_id": session_id, "count": 5})
            served = {item["item_id"] for item in page["items"]}
            self.repeats.extend(f"{session_id}: {item}" for item in served & shown)
            shown |= served
            turn += 1

    def _send(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        started = time.monotonic()
        response = self.client.request(method, url, **kwargs)
        body: dict[str, Any] = response.json()
        self.replies.append(Reply(started, response.status_code, body.get("model_version")))
        return body


def wait_for_version(client: TestClient, version: str, timeout_s: float = 20.0) -> float:
    """The monotonic time at which /readyz first named `version`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/readyz").json()["model_version"] == version:
            return time.monotonic()
        time.sleep(POLL_S / 2)
    raise AssertionError(f"{version} was not served within {timeout_s} s")


def point(link: Path, target: Path) -> None:
    """Re-point a symlink atomically: a new link renamed over the old one (`mv -T`)."""
    staging = link.with_name(link.name + ".new")
    staging.symlink_to(target)
    os.replace(staging, link)


def test_new_version_is_served_under_traffic_and_sessions_carry_on(
    tiny_bundle: TinyBundle, second_bundle: Path, store_url: str | None, tmp_path: Path
) -> None:
    shutil.copytree(tiny_bundle.path, tmp_path / "v1")
    shutil.copytree(second_bundle, tmp_path / "v2")
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "v1")
    settings = Settings(
        bundle_dir=link, redis_url=store_url, bundle_poll_s=POLL_S, cursor_secret="test"
    )
    items = list(tiny_bundle.data.vocab.item_ids)
    with TestClient(create_app(settings, np.random.default_rng(5))) as client:
        swiped = items[:3]
        for item_id in swiped:
            client.post("/swipe", json={"session_id": "before", "item_id": item_id})
        first = client.get("/feed", params={"session_id": "before", "count": 10}).json()
        traffic = Traffic(client, items)
        with traffic.running():
            time.sleep(0.5)
            point(link, tmp_path / "v2")
            switched_at = wait_for_version(client, NEW)
            time.sleep(0.5)

        assert (traffic.errors, [r for r in traffic.replies if r.status != 200]) == ([], [])
        assert traffic.versions == {OLD, NEW}  # traffic flowed on both sides of the swap
        after = [reply for reply in traffic.replies if reply.started > switched_at]
        assert after
        assert {reply.model_version for reply in after} == {NEW}
        assert traffic.repeats == []  # seen and served items carried over the swap

        again = client.post("/swipe", json={"session_id": "before", "item_id": items[-1]})
        assert again.json()["seq"] == 4
        assert again.json()["new_session"] is False
        assert again.json()["model_version"] == NEW
        page = client.get("/feed", params={"session_id": "before", "count": 10}).json()
        shown = {*swiped, items[-1], *(item["item_id"] for item in first["items"])}
        assert not shown & {item["item_id"] for item in page["items"]}
        metrics = client.get("/metrics").text
        assert "nextswipe_model_swaps_total 1.0" in metrics
        assert f'nextswipe_model_info{{version="{NEW}"}} 1.0' in metrics
        assert 'nextswipe_sessions_migrated_total{outcome="carried"}' in metrics
        assert 'nextswipe_sessions_migrated_total{outcome="reset"} 0.0' in metrics


def test_broken_bundle_is_refused_and_a_fixed_one_is_taken(
    tiny_bundle: TinyBundle,
    second_bundle: Path,
    store_url: str | None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = tmp_path / "bundle"
    shutil.copytree(tiny_bundle.path, served)
    settings = Settings(
        bundle_dir=served, redis_url=store_url, bundle_poll_s=POLL_S, cursor_secret="test"
    )
    items = list(tiny_bundle.data.vocab.item_ids)
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.ERROR):
        traffic = Traffic(client, items)
        with traffic.running():
            broken = Path(shutil.copytree(second_bundle, tmp_path / "broken"))
            with (broken / INDEX_FILE).open("ab") as f:
                f.write(b"\0")
            replace_directory(served, broken)  # as models.export does: remove, rename
            deadline = time.monotonic() + 20.0
            while "refused" not in caplog.text and time.monotonic() < deadline:
                time.sleep(POLL_S)
            time.sleep(10 * POLL_S)  # polls that must not try the same bundle again
            assert client.get("/readyz").json()["model_version"] == OLD
            replace_directory(served, Path(shutil.copytree(second_bundle, tmp_path / "fixed")))
            wait_for_version(client, NEW)

        assert (traffic.errors, [r for r in traffic.replies if r.status != 200]) == ([], [])
        assert traffic.versions == {OLD, NEW}
        refusals = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(refusals) == 1
        assert "items.faiss" in refusals[0].getMessage()
        assert NEW in refusals[0].getMessage()
        metrics = client.get("/metrics").text
        assert "nextswipe_model_swap_failures_total 1.0" in metrics
        assert "nextswipe_model_swaps_total 1.0" in metrics


def replace_directory(path: Path, new: Path) -> None:
    shutil.rmtree(path)
    new.rename(path)


def test_requests_do_not_wait_for_a_bundle_that_loads(
    tiny_bundle: TinyBundle,
    second_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The load runs in a worker thread: a slow one (a big bundle) delays no request."""
    loading = threading.Event()

    def slow_load(settings: Settings, bundle_dir: Path) -> ServingModel:
        loading.set()
        time.sleep(1.0)
        return load_bundle(settings, bundle_dir)

    monkeypatch.setattr(watcher, "load_bundle", slow_load)
    shutil.copytree(tiny_bundle.path, tmp_path / "v1")
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "v1")
    settings = Settings(bundle_dir=link, bundle_poll_s=POLL_S, cursor_secret="test")
    with TestClient(create_app(settings)) as client:
        point(link, second_bundle)
        assert loading.wait(10.0)
        latencies = []
        for _ in range(20):
            started = time.monotonic()
            assert client.get("/feed", params={"session_id": "s"}).json()["model_version"] == OLD
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 0.25
        wait_for_version(client, NEW)
