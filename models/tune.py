"""Hyperparameter search on the validation split: train on train, measure on validation.

    python -m models.tune --config models/configs/microlens.toml \
        --data ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz \
        [--try "loss=cross-entropy logq=1.0" --try "hidden_size=256" ...] [n_epochs=8]

Each `--try` is a set of overrides on top of the config; every candidate is validated
after every epoch, so the epoch count is tuned too. The test split is never read. Results
are appended to build/tune-results.jsonl and the best candidate (by MRR@20) is printed.
"""

import argparse
import json
import shlex
import time
from pathlib import Path
from typing import Any

from models import config as config_module
from models.config import TrainConfig
from models.evaluate import gru_predictions, measure
from models.gru4rec import GRU4Rec
from models.prepare import Prepared, prepare
from models.train import new_model, train_epochs

RESULTS = Path("build/tune-results.jsonl")


def run_candidate(config: TrainConfig, data: Prepared, candidate: str) -> list[dict[str, Any]]:
    """Train one candidate, validating after every epoch; one row per epoch."""
    model, optimizer = new_model(config, len(data.vocab))
    t0 = time.time()
    rows: list[dict[str, Any]] = []

    def validate(epoch: int, trained: GRU4Rec) -> None:
        metrics = measure(gru_predictions(trained, data.held_out.sessions))
        row = {"candidate": candidate, "epoch": epoch, **metrics, "elapsed_s": time.time() - t0}
        rows.append(row)
        print(json.dumps(row), flush=True)

    train_epochs(config, model, optimizer, data.train, data.item_counts, False, validate)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--try", dest="candidates", action="append", default=None)
    args, common = parser.parse_known_args()
    candidates = args.candidates or [""]
    base = config_module.load(args.config, common)
    data = prepare(base, args.data, "tune")
    print("data:", data.dataset)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    best: tuple[float, str, int] | None = None
    for candidate in candidates:
        config = config_module.load(args.config, [*common, *shlex.split(candidate)])
        rows = run_candidate(config, data, candidate)
        with RESULTS.open("a") as f:
            for row in rows:
                f.write(json.dumps({**row, "config": config.to_dict()}) + "\n")
        top = max(rows, key=lambda r: r["mrr@20"])
        if best is None or top["mrr@20"] > best[0]:
            best = (top["mrr@20"], candidate, top["epoch"])
    assert best is not None
    print(f"best on validation: {best[1]!r} at epoch {best[2]} (MRR@20 {best[0]:.4f})")


if __name__ == "__main__":
    main()
