"""`python -m models.epoch_curve` for real on the tiny generated log: a row per epoch, judged
on validation, the same figures a tuning trial of that configuration sees."""

import json
from pathlib import Path

from models import epoch_curve
from models.command_line import DataSource
from models.config import load
from models.prepare import prepare
from models.trial_run import run_trial

TINY = Path(__file__).resolve().parents[2] / "models" / "configs" / "tiny.toml"


def test_a_row_per_epoch_with_the_validation_figures_of_a_tuning_trial(tmp_path: Path) -> None:
    out = tmp_path / "curve.json"
    rows = epoch_curve.main(["--config", str(TINY), "--out", str(out), "n_epochs=3"])
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert all(0.0 < row["mrr@20"] <= row["recall@20"] <= 1.0 for row in rows)
    assert all(row["loss"] > 0 for row in rows)
    report = json.loads(out.read_text())
    assert report["config"]["n_epochs"] == 3
    assert report["dataset"]["purpose"] == "tune"  # validation held out, never test
    # the trial of the same configuration sees the same validation figures at each epoch
    config = load(TINY)
    data = prepare(config, DataSource(), "tune")
    trial = run_trial(
        config,
        {},
        data,
        objective=lambda figures: figures["mrr@20"],
        floor=0.0,
        max_epochs=3,
        patience=10,
        deadline=float("inf"),
        report=lambda epoch, value: False,
    )
    assert [row["mrr@20"] for row in trial.epochs] == [row["mrr@20"] for row in rows]
