"""The fixed-rate run end to end for two short rates per target: a real redis-server, uvicorn
pinned to its core and the open-loop generator, against the tiny bundle and the bare app.
Latencies are the machine's; what is asserted is that the schedule was kept, every answer was
a 200, the completed rate followed the offered one, and the JSON and PNG were written."""

import json
import os
from pathlib import Path

import pytest

from loadtest.fixed_rate import main, summarise
from loadtest.paced_sessions import Sent
from loadtest.rates_step import LATE_MS, RateStep
from tests.conftest import TinyBundle


def test_a_short_fixed_rate_run_reports_both_targets(
    tiny_bundle: TinyBundle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    affinity = os.sched_getaffinity(0)
    argv = ["--bundle", str(tiny_bundle.path), "--rates", "50,100", "--duration", "1"]
    try:
        code = main([*argv, "--out", str(tmp_path)])
    finally:
        os.sched_setaffinity(0, affinity)  # main pins this process to the generator's CPU
    out = capsys.readouterr().out

    steps = json.loads((tmp_path / "rates-tiny.json").read_text())
    assert [(step["target"], step["offered"]) for step in steps] == [
        ("nextswipe", 50.0),
        ("nextswipe", 100.0),
        ("baseline", 50.0),
        ("baseline", 100.0),
    ]
    for step in steps:
        assert step["failures"] == 0, step
        assert step["completed"] == pytest.approx(step["offered"], rel=0.1), step
        assert step["p50_ms"] <= step["p99_ms"] <= step["max_ms"], step
    assert code == (0 if all(RateStep(**s).counts for s in steps) else 1), out
    assert "service on CPU 0, generator and Redis on CPU 1" in out
    assert (tmp_path / "rates-tiny.png").read_bytes().startswith(b"\x89PNG")


def test_a_late_generator_or_a_failure_is_reported_as_such() -> None:
    on_time = [Sent("swipe", float(i), 0.0, 0.002, 200) for i in range(99)]
    step = summarise("x", 100.0, 1.0, [*on_time, Sent("feed", 99.0, 0.0, 0.004, 503)])
    assert step.failures == 1
    assert step.completed == 99.0
    assert step.feed_p99_ms != step.feed_p99_ms  # no feed answered: NaN, not a figure
    assert step.counts
    late = [Sent("swipe", float(i), 0.1, 0.002, 200) for i in range(100)]
    assert summarise("x", 100.0, 1.0, late).late_p99_ms > LATE_MS
    assert not summarise("x", 100.0, 1.0, late).counts
