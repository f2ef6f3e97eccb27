"""Crash safety, with a real SIGKILL: the learner killed while it trains and while it
exports, then restarted, has trained every logged swipe exactly once; the served symlink
only ever points at a whole, verified bundle; and the service answered every request."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from fastapi.testclient import TestClient

from app.bundle import verify_bundle
from app.main import create_app
from app.settings import Settings
from learn.publish import flip
from learn.state import load_state
from tests.conftest import TinyBundle
from tests.learn.test_loop import replay_sessions, wait_for_version

ROOT = Path(__file__).resolve().parents[2]


def learner(tmp_path: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "learn.run",
        "--link", str(tmp_path / "live"),
        "--base", str(tmp_path / "base"),
        "--checkpoint", str(tmp_path / "base.pt"),
        "--state", str(tmp_path / "learn" / "state.pt"),
        "--event-log", str(tmp_path / "events.log"),
        "--metrics-port", "0",
        "--interval-s", "0.2",
        "--guard-share", "0.3",
        "--min-guard-events", "5",
        "--guard-tolerance", "1.0",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def kill_at(process: subprocess.Popen[str], phrase: str, timeout_s: float = 120.0) -> list[str]:
    """SIGKILL the learner as soon as it prints `phrase`; its output so far."""
    assert process.stdout is not None
    lines, deadline = [], time.monotonic() + timeout_s
    for line in process.stdout:
        lines.append(line)
        if phrase in line:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            process.stdout.close()
            return lines
        assert time.monotonic() < deadline, "".join(lines)
    raise AssertionError(f"the learner ended without {phrase!r}:\n{''.join(lines)}")


def pending_events(state: dict[str, object]) -> int:
    joiner = state["joiner"]
    assert isinstance(joiner, dict)
    return sum(len(events) for events in joiner["pending"].values())


def test_sigkill_in_training_and_in_export_loses_and_repeats_nothing(
    tmp_path: Path, tiny_bundle: TinyBundle
) -> None:
    shutil.copytree(tiny_bundle.path, tmp_path / "base")
    torch.save(tiny_bundle.checkpoint, tmp_path / "base.pt")
    live = tmp_path / "live"
    flip(live, tmp_path / "base")
    settings = Settings(
        bundle_dir=live,
        bundle_poll_s=0.05,
        cursor_secret="t",
        event_log_path=tmp_path / "events.log",
        event_flush_s=0.01,
    )
    failures: list[str] = []
    served_versions: set[str] = set()
    stop = threading.Event()
    with TestClient(create_app(settings, np.random.default_rng(0))) as client:
        swipes = replay_sessions(client, tiny_bundle, 50)

        def keep_asking() -> None:
            """Feeds and readiness all along: every one must answer 200."""
            n = 0
            while not stop.is_set():
                response = client.get("/feed", params={"session_id": f"reader-{n % 5}"})
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    served_versions.add(response.json()["model_version"])
                n += 1
                time.sleep(0.01)

        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            time.sleep(0.2)
            kill_at(learner(tmp_path), "training on")
            assert load_state(tmp_path / "learn" / "state.pt") is None  # died before any
            kill_at(learner(tmp_path), "exporting")
            assert verify_bundle(live.resolve())  # still the base bundle, whole
            process = learner(tmp_path)
            assert process.stdout is not None
            published = 0
            deadline = time.monotonic() + 180
            for line in process.stdout:
                published += "published=" in line and "published=None" not in line
                state = load_state(tmp_path / "learn" / "state.pt")
                if published >= 1 and state is not None and pending_events(state) == 0:
                    break
                assert time.monotonic() < deadline
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            process.stdout.close()
            assert wait_for_version(client, verify_bundle(live.resolve()).version)
            time.sleep(0.2)  # a few more feeds, now from the published version
        finally:
            stop.set()
            asker.join()
    state = load_state(tmp_path / "learn" / "state.pt")
    assert state is not None
    assert state["trained_events"] == swipes  # every logged swipe once: none twice, none lost
    assert pending_events(state) == 0
    assert failures == []
    assert live.resolve().parent == tmp_path / "versions"
    assert verify_bundle(live.resolve()).version in served_versions  # the published one served
    assert not [p for p in (tmp_path / "versions").iterdir() if p.name.startswith(".")]
    assert os.path.islink(live)
