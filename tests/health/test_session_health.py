"""Session health from a real service's event log: scripted sessions through the app, the
log it wrote, and `health.report` over it, against hand-counted answers."""

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from health.report import main
from health.session_health import first_abandonment
from tests.conftest import TinyBundle

SKIP = 0.05


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([1.0, 1.0, 1.0], None),  # never skipped
        ([SKIP, 1.0, 1.0], None),  # a skip, then it went on
        ([1.0, SKIP, SKIP, SKIP, 1.0], 1),  # three in a row: abandoned where the run began
        ([1.0, SKIP, 1.0, SKIP, SKIP, SKIP], 3),  # the first run of three, not the first skip
        ([1.0, 1.0, SKIP], 2),  # the session ended on a skip
        ([1.0, SKIP, SKIP], 1),  # ended in a run shorter than three
    ],
)
def test_first_abandonment(weights: list[float], expected: int | None) -> None:
    assert first_abandonment(weights, SKIP, skip_run=3) == expected


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_the_report_counts_scripted_sessions_from_the_log_the_service_wrote(
    store: str,
    tiny_bundle: TinyBundle,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The embedded store's log file, or Redis Streams read as `make health` reads them: from
    the service's own settings."""
    log = tmp_path / "events.log"
    redis_url: str | None = request.getfixturevalue("redis_url") if store == "redis" else None
    settings = Settings(
        bundle_dir=tiny_bundle.path, redis_url=redis_url, event_log_path=log, cursor_secret="t"
    )
    items = list(tiny_bundle.data.vocab.item_ids)
    watched = {"watch_ms": 15_000, "duration_ms": 15_000}
    skipped = {"watch_ms": 1_000, "duration_ms": 15_000}
    with TestClient(create_app(settings, rng=np.random.default_rng(3))) as client:
        for session_id, plan in (
            ("keeps", [watched] * 5),
            ("leaves", [watched] * 2 + [skipped] * 3),
        ):
            assert client.get("/feed", params={"session_id": session_id}).status_code == 200
            for item_id, signals in zip(items, plan, strict=False):
                body = {"session_id": session_id, "item_id": item_id, **signals}
                assert client.post("/swipe", json=body).status_code == 200
        assert client.get("/feed", params={"session_id": "only-pages"}).status_code == 200
        live = client.get("/metrics").text  # the live histogram saw the same abandonment
        assert "nextswipe_first_abandonment_swipes_count 1.0" in live
        assert "nextswipe_first_abandonment_swipes_sum 3.0" in live
    # the app closed: its log is flushed
    out = tmp_path / "health"
    arguments = ["--bundle", str(tiny_bundle.path), "--out", str(out)]
    if redis_url is None:
        arguments += ["--log", str(log)]
    else:
        monkeypatch.setenv("NEXTSWIPE_REDIS_URL", redis_url)
    report = main(arguments)
    sessions = {row["session_id"]: row for row in report["sessions"]}
    assert set(sessions) == {"keeps", "leaves"}  # a session without swipes has no health
    keeps, leaves = sessions["keeps"], sessions["leaves"]
    assert (keeps["swipes"], keeps["pages"], keeps["completion_ratio"]) == (5, 1, 1.0)
    assert keeps["abandoned_at_swipe"] is None
    assert keeps["skip_ratio"] == 0.0
    assert (leaves["swipes"], leaves["completion_ratio"], leaves["skip_ratio"]) == (5, 0.4, 0.6)
    assert leaves["abandoned_at_swipe"] == 3  # seq 3 began the run of three skips
    assert 0.0 <= leaves["abandoned_after_s"] <= leaves["seconds"]
    clusters = np.load(tiny_bundle.path / "clusters.npy")
    row = {item_id: n for n, item_id in enumerate(items)}
    assert keeps["clusters"] == len({int(clusters[row[item_id]]) for item_id in items[:5]})
    summary = report["summary"]
    assert summary["swipes"]["sessions"] == 2
    assert summary["swipes"]["mean"] == 5.0
    assert summary["abandoned_at_swipe"]["sessions"] == 1
    assert json.loads((out / "health.json").read_text())["summary"] == summary
    assert (out / "health.png").stat().st_size > 10_000
