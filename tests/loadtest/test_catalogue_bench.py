"""`python -m loadtest.catalogue_bench` end to end, briefly, on the tiny bundle: a real
redis-server and uvicorn, uploads and takedowns through HTTP. It checks the machinery and
what must hold at any speed (uploads acknowledged, new items served, no takedown served after
its grace second), never how fast the machine is.
"""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import TinyBundle

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, bundle: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "loadtest.catalogue_bench", *options, "--warm-s", "1"]
    command += ["--bundle", str(bundle), "--out", str(tmp_path)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)


def test_a_short_burst_reports_quiet_and_burst_windows(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    options = ["burst", "--rate", "40", "--quiet-s", "2", "--requests", "2"]
    run = run_bench(tmp_path, tiny_bundle.path, *options, "--per-request", "200")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((tmp_path / "burst-40rps.json").read_text())
    for name in ("bare_app", "quiet", "burst"):
        assert report[name]["swipe"]["requests"] + report[name]["feed"]["requests"] > 0, name
    assert report["quiet"]["swipe"]["failed"] == 0
    assert report["upload_request_s"]["total"] > 0


def test_new_items_reach_their_impressions_and_takedowns_stay_down(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    options = ["exposure", "--rate", "60", "--new-items", "3", "--impressions", "3"]
    run = run_bench(tmp_path, tiny_bundle.path, *options, "--duration-s", "9", "--takedowns", "4")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((tmp_path / "exposure-60rps.json").read_text())
    assert report["reached_target"] == 3, report["impressions_seen_by_clients"]
    assert report["takedowns"] == 4
    assert report["pages_serving_a_takedown_after_1s"] == 0
