"""The learning loop, short and real: swipes through the service reach the log, the learner
trains a round on them, the guard passes it, the version is published behind the symlink and
the service swaps to it and serves it; a bad candidate is kept back."""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from learn.guard import against_base, judge
from learn.joiner import Fragment
from learn.metrics import LearnerMetrics
from learn.refit_cache import load_refit
from learn.run import Learner, Served, parse_args, refit_path, restart, start
from models.train import Checkpoint
from tests.app.test_routes import swipe
from tests.conftest import TinyBundle


def learner_for(tmp_path: Path, tiny: TinyBundle, *extra: str) -> Learner:
    base = tmp_path / "base"
    if not base.exists():
        shutil.copytree(tiny.path, base)
        torch.save(tiny.checkpoint, tmp_path / "base.pt")
    args = parse_args(
        [
            "--link",
            str(tmp_path / "live"),
            "--base",
            str(base),
            "--checkpoint",
            str(tmp_path / "base.pt"),
            "--state",
            str(tmp_path / "learn" / "state.pt"),
            "--event-log",
            str(tmp_path / "events.log"),
            "--catalogue-path",
            str(tmp_path / "catalogue.log"),
            "--metrics-port",
            "0",
            "--guard-share",
            "0.3",
            "--min-guard-events",
            "5",
            *extra,
        ]  # fmt: skip
    )
    return start(args, LearnerMetrics())


@pytest.fixture
def served(tmp_path: Path, tiny_bundle: TinyBundle) -> Iterator[tuple[TestClient, Learner]]:
    learner = learner_for(tmp_path, tiny_bundle, "--guard-tolerance", "1.0")
    settings = Settings(
        bundle_dir=tmp_path / "live",
        bundle_poll_s=0.1,
        cursor_secret="t",
        event_log_path=tmp_path / "events.log",
        event_flush_s=0.01,
        catalogue_path=tmp_path / "catalogue.log",
        admin_token="admin",
    )
    with TestClient(create_app(settings, np.random.default_rng(0))) as client:
        yield client, learner


def replay_sessions(client: TestClient, tiny: TinyBundle, n_sessions: int) -> int:
    """Held-out sessions of the generated log, swiped through the service; returns swipes."""
    ids = list(tiny.checkpoint["item_ids"])
    held_out = tiny.data.held_out.sessions
    swipes = 0
    for s in range(min(n_sessions, held_out.n_sessions)):
        for row in held_out.items[held_out.offsets[s] : held_out.offsets[s + 1]].tolist():
            assert swipe(client, f"u{s}", ids[row], watch_ms=9000).status_code == 200
            swipes += 1
    return swipes


def wait_for_version(client: TestClient, version: str, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/readyz").json().get("model_version") == version:
            return True
        time.sleep(0.1)
    return False


def test_swipes_are_learned_published_and_served(
    served: tuple[TestClient, Learner], tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    client, learner = served
    upload = {"items": [{"item_id": "fresh", "title": "a new video about cats # cats"}]}
    assert client.post("/items", json=upload, headers={"Authorization": "Bearer admin"}).is_success
    swipes = replay_sessions(client, tiny_bundle, 60)
    for n in range(3):  # an upload the vocabulary lacks, swiped in three sessions
        assert swipe(client, f"u{n}", "fresh").status_code == 200
    swipes += 3
    assert swipes >= 200
    time.sleep(0.2)  # the service writes its log file every 10 ms
    line = learner.round()
    assert line is not None
    assert line["published"], line
    held = sum(len(events) for events in learner.joiner.pending.values())
    assert line["events"] + held == swipes  # every swipe trained or held back, none twice
    assert line["grown_items"] == 1
    assert "fresh" in learner.state["checkpoint"]["item_ids"]
    assert learner.refitted is not None  # its row started from the projected upload
    projection = learner.refitted.content.projection
    start_row = learner.content.projected(projection, ["fresh"])["fresh"]  # catalogue log
    assert start_row.shape == (
        learner.state["checkpoint"]["model"]["item_bias.weight"].shape[1]
        + learner.state["checkpoint"]["config"]["hidden_size"],
    )
    link = tmp_path / "live"
    assert link.is_symlink()
    assert link.resolve().name == line["published"]
    assert wait_for_version(client, line["published"])
    page = client.get("/feed", params={"session_id": "u0"}).json()
    assert page["model_version"] == line["published"]
    time.sleep(0.2)
    learner.round()  # reads the page: the swipe-to-served lag is observed
    lag = learner.metrics.registry.get_sample_value("nextswipe_learn_swipe_to_served_seconds_count")
    assert lag == line["events"]


def test_a_restart_trains_nothing_twice(
    served: tuple[TestClient, Learner], tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    client, learner = served
    swipes = replay_sessions(client, tiny_bundle, 40)
    time.sleep(0.2)
    first = learner.round()
    assert first is not None
    held = sum(len(events) for events in learner.joiner.pending.values())
    assert held
    assert first["events"] + held == swipes
    # a restarted learner reads nothing again: it trains what the guard held back, only that
    again = learner_for(tmp_path, tiny_bundle, "--guard-tolerance", "1.0")
    assert first["published"]
    assert learner.refitted is not None
    assert again.refitted is not None  # the refit kept on disk: no minute of refitting again
    assert again.refitted_at == learner.refitted_at
    probe = np.eye(learner.refitted.content.projection.content_dim, dtype=np.float32)[:5]
    before, after = learner.refitted.content.projection, again.refitted.content.projection
    np.testing.assert_array_equal(before.apply(probe), after.apply(probe))
    second = again.round()
    assert second is not None
    assert second["events"] == held
    assert learner_for(tmp_path, tiny_bundle).round() is None
    assert again.state["trained_events"] == swipes


def test_a_due_refit_never_holds_a_publish(
    served: tuple[TestClient, Learner], tiny_bundle: TinyBundle
) -> None:
    client, learner = served
    learner.args.refit_s = 0.0  # every publish finds its refit due
    replay_sessions(client, tiny_bundle, 30)
    time.sleep(0.2)
    first = learner.round()
    assert first is not None
    assert first["published"]
    first_at = learner.refitted_at  # the first version refits inline: it has no other
    replay_sessions(client, tiny_bundle, 60)
    time.sleep(0.2)
    second = learner.round()
    assert second is not None
    assert second["published"]
    assert learner.refits.busy  # due: started in the background, not waited for
    assert learner.refitted_at == first_at  # so the second version went out with the first
    deadline = time.monotonic() + 60
    while learner.refitted_at == first_at and time.monotonic() < deadline:
        time.sleep(0.1)
        learner.round()  # each round takes up a refit that has finished
    learner.refits.stop()
    assert learner.refitted_at > first_at
    cached = load_refit(refit_path(learner.args))
    assert cached is not None
    assert cached[2] == learner.refitted_at


def test_a_restart_comes_soon_and_keeps_what_only_the_learner_knew(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    learner = learner_for(tmp_path, tiny_bundle, "--interval-s", "60")
    learner.served["v1"] = Served([123])
    t0 = time.monotonic()
    again = restart(learner.args, learner.metrics, learner)
    assert time.monotonic() - t0 < 10  # not a whole INTERVAL behind a brief outage
    assert again is not learner
    assert again.served == {"v1": Served([123])}  # that version's swipes still get a lag
    assert again.refits is learner.refits  # a refit in progress is not lost


def held_out_fragments(tiny: TinyBundle) -> list[Fragment]:
    """The generated log's held-out sessions as the joiner hands them to the guard."""
    ids = list(tiny.checkpoint["item_ids"])
    held_out = tiny.data.held_out.sessions
    return [
        Fragment(
            f"u{s}", [], [], [ids[r] for r in held_out.items[a:b].tolist()], [1.0] * int(b - a), 0
        )
        for s, (a, b) in enumerate(zip(held_out.offsets[:-1], held_out.offsets[1:], strict=True))
    ]


def randomised(checkpoint: Checkpoint) -> Checkpoint:
    return {**checkpoint, "model": {k: torch.randn_like(v) for k, v in checkpoint["model"].items()}}


def test_a_worse_candidate_is_kept_back(tiny_bundle: TinyBundle) -> None:
    serving = tiny_bundle.checkpoint
    broken = randomised(serving)
    fragments = held_out_fragments(tiny_bundle)
    verdict = judge(broken, serving, fragments, tolerance=0.02, min_events=5)
    assert not verdict.publish
    assert verdict.reason == "worse"
    assert verdict.events > 5
    assert judge(serving, serving, fragments, 0.02, 5).publish
    assert judge(serving, serving, fragments[:1], 0.02, 10_000).reason == "too few events"


def test_a_candidate_drifted_from_the_base_is_kept_back_however_it_compares_to_the_serving(
    tiny_bundle: TinyBundle,
) -> None:
    base = tiny_bundle.checkpoint
    drifted = randomised(base)  # what many small losses within tolerance could add up to
    fragments = held_out_fragments(tiny_bundle)
    verdict = judge(drifted, drifted, fragments, 0.02, 5)
    assert verdict.publish  # no worse than the (drifted) model serving
    kept = against_base(verdict, drifted, base, fragments, 0.05, 5)
    assert not kept.publish
    assert kept.reason == "drifted"
    assert kept.base is not None
    assert kept.base.candidate["recall@20"] < kept.base.serving["recall@20"]
    healthy = against_base(judge(base, base, fragments, 0.02, 5), base, base, fragments, 0.05, 5)
    assert healthy.publish
    assert healthy.base is not None
    assert healthy.base.reason == "better"
    worse = judge(drifted, base, fragments, 0.02, 5)
    assert against_base(worse, drifted, base, fragments, 0.05, 5) is worse  # already kept back


def test_the_base_model_is_kept_in_the_state_and_survives_a_restart(
    tmp_path: Path, tiny_bundle: TinyBundle
) -> None:
    learner = learner_for(tmp_path, tiny_bundle)
    expected = learner.base["model"]
    learner.state["serving"] = randomised(learner.state["serving"])  # a later version serves
    learner._save_and_commit(learner.state["positions"])
    again = learner_for(tmp_path, tiny_bundle)
    for name, weights in expected.items():
        assert torch.equal(again.base["model"][name], weights)
    saved = torch.load(tmp_path / "learn" / "state.pt", weights_only=True)
    assert "base" not in saved  # written once beside the checkpoint, not every round
