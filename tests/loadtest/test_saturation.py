"""The saturation run end to end for two short steps per target: a real redis-server, uvicorn
pinned to its core, and wrk with the session script, against the tiny bundle and the bare
app. Rates and latencies are the machine's; what is asserted is that the session mix reached
the service, every answer was a 200, and the report, JSON and PNG were written."""

import json
import urllib.request
from pathlib import Path

import pytest

from loadtest.cores import core_split
from loadtest.run import NEXTSWIPE
from loadtest.saturation import main, serving, write_item_ids
from loadtest.wrk_run import run_wrk
from tests.conftest import TinyBundle


def test_a_short_saturation_run_reports_both_targets(
    tiny_bundle: TinyBundle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--bundle", str(tiny_bundle.path), "--duration", "1", "--connections", "1,4"]
    argv += ["--out", str(tmp_path), "--p99-ms", "5000"]
    code = main(argv)
    out = capsys.readouterr().out

    steps = json.loads((tmp_path / "saturation-tiny.json").read_text())
    assert [(step["target"], step["connections"]) for step in steps] == [
        ("nextswipe", 1),
        ("nextswipe", 4),
        ("baseline", 1),
        ("baseline", 4),
    ]
    for step in steps:
        assert step["rate"] > 0, step
        assert step["failures"] == 0, step  # the mix's swipes and feeds were all well formed
        assert 0 < step["service_busy"] <= 1, step
        assert 0 < step["loader_busy"] <= 1, step
    counted = [step for step in steps if step["loader_busy"] <= 0.9]
    assert code == (0 if any(s["target"] == "nextswipe" for s in counted) else 1), out
    assert "service on CPU 0, wrk and Redis on CPU 1" in out
    assert (tmp_path / "saturation-tiny.png").read_bytes().startswith(b"\x89PNG")


def test_the_swipes_and_feeds_reach_the_service_in_the_mix(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    """The service's own counters after a wrk run: four swipes applied for each page built."""
    split = core_split()
    items = write_item_ids(tiny_bundle.path, tmp_path / "items.txt")
    with serving(NEXTSWIPE, tiny_bundle.path, split, tmp_path / "service.log") as url:
        result = run_wrk(url, 2, 1, items, "mix", split.loader_list)
        with urllib.request.urlopen(url + "/metrics") as response:
            metrics = response.read().decode()
    assert result.failures == 0, result
    assert result.requests > 50, result
    swipes = _value(metrics, "nextswipe_swipes_total")
    pages = _value(metrics, "nextswipe_pages_total")
    assert swipes + pages == pytest.approx(result.requests, abs=2)  # 2 in flight at the end
    assert 3.5 <= swipes / pages <= 4.5, (swipes, pages)


def _value(metrics: str, name: str) -> float:
    """One unlabelled sample from the Prometheus text."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in the metrics")
