"""`python -m loadtest.run` end to end for five seconds at 20 req/s: a real redis-server, uvicorn
and locust against the tiny bundle. Locust only ever runs in its own process: importing it
here would monkey-patch pytest's process with gevent.
"""

import csv
import subprocess
import sys
from pathlib import Path

from tests.conftest import TinyBundle

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_run_exits_zero_and_writes_its_report(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    # The budget is set out of reach: this test checks the machinery, not the machine's speed.
    command = [sys.executable, "-m", "loadtest.run", "--rate", "20", "--duration", "5"]
    command += ["--workers", "1", "--bundle", str(tiny_bundle.path), "--out", str(tmp_path)]
    command += ["--p99-ms", "5000"]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "budget (p99 <= 5000 ms, no failures): held" in run.stdout

    with (tmp_path / "nextswipe-20rps_stats.csv").open(newline="") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    assert int(rows["/swipe"]["Request Count"]) > 0
    assert int(rows["/feed"]["Request Count"]) > 0
    assert rows["Aggregated"]["Failure Count"] == "0"
    assert (tmp_path / "nextswipe-20rps_stats_history.csv").stat().st_size > 0
    assert (tmp_path / "nextswipe-20rps.png").read_bytes().startswith(b"\x89PNG")
