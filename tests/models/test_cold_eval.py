"""The cold-item evaluation end to end on the tiny generated log, the projection's bias shift
served as chosen."""

import json
from pathlib import Path

import pytest

from models.cold_eval import main

TINY = Path(__file__).resolve().parents[2] / "models" / "configs" / "tiny.toml"


def test_cold_eval_on_the_tiny_log(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    argv = ["--config", str(TINY), "--work", str(tmp_path / "work"), "--out", str(out)]
    report = main(argv)
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert report["dataset"]["cold_items"] == round(0.1 * report["dataset"]["n_items"])
    shared = report["results"]["-"]
    (name,) = (key for key in report["results"] if key != "-")
    variants = report["results"][name]
    assert set(variants) == {"projected", "content_knn", "blended"}
    blend = report["encoders"][name]["blend"]
    assert set(blend) == {"shift", "weight", "cold_recall", "warm_recall"}
    for parts in [*shared.values(), *variants.values()]:
        assert parts["cold"]["events"] + parts["warm"]["events"] == parts["all"]["events"]
        assert parts["all"]["events"] == report["dataset"]["test_predictions"]
    # the warm-only model never reaches a cold item
    assert shared["warm_only"]["cold"]["recall@20"] == 0.0
    # titles carry the generated topics: projected cold items beat random placement
    assert variants["projected"]["cold"]["recall@20"] > shared["random"]["cold"]["recall@20"]
    # projected is served with the projection's own shift: its point of the test frontier
    # (up to the order of one float addition: the frontier adds the shift to the score)
    shift = report["encoders"][name]["bias_shift"]
    projection = report["encoders"][name]["projection"]
    assert shift["chosen"] == projection["bias_shift"]
    assert shift["chosen_index"] == projection["shift_choice"]["chosen"]
    point = shift["test_frontier"][shift["chosen_index"]]
    assert point["shift"] == projection["bias_shift"]
    for part in ("cold", "warm", "all"):
        assert variants["projected"][part]["recall@20"] == pytest.approx(
            point[part]["recall@20"], abs=1.0 / point[part]["events"]
        )
    # a second run reuses the trained model and the content vectors, and agrees
    again = main(argv)
    assert again["results"] == report["results"]
