"""Validation after every epoch of one configuration: where it peaks, and whether it overfits.

    python -m models.epoch_curve --config models/configs/microlens.toml \
        --data ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz hidden_size=256 n_epochs=8

Trains on the training split only (validation held out, as `--purpose tune`) and prints
Recall@20 and MRR@20 on validation after each epoch, with the seconds so far. One change at
a time, read beside the same command without it, is how a single candidate is judged when
`make tune`'s search is too coarse or too short to say; the test split is never touched.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from models.command_line import add_data_arguments, data_source, parse
from models.evaluate import measure_repeat_shares
from models.gru4rec import GRU4Rec
from models.prepare import prepare
from models.train import new_model, train_epochs


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON")
    args, config = parse(parser, argv)
    source = data_source(args, parser.error)
    try:
        data = prepare(config, source, "tune")
    except ValueError as error:
        parser.error(str(error))
    model, optimizer = new_model(config, len(data.vocab))
    rows: list[dict[str, Any]] = []
    t0 = time.time()

    def validate(epoch: int, trained: GRU4Rec) -> None:
        (figures,) = measure_repeat_shares(trained, data.held_out.sessions, (0.0,))
        rows.append({"epoch": epoch, **figures, "seconds": round(time.time() - t0, 1)})
        print(
            f"epoch {epoch}: validation Recall@20 {figures['recall@20']:.4f} "
            f"MRR@20 {figures['mrr@20']:.4f} ({rows[-1]['seconds']:.0f} s)",
            flush=True,
        )

    losses = train_epochs(config, model, optimizer, data.train, data.item_counts, False, validate)
    for row, loss in zip(rows, losses, strict=True):
        row["loss"] = loss
    best = max(rows, key=lambda row: row["mrr@20"])
    print(f"best MRR@20 at epoch {best['epoch']}: {best['recall@20']:.4f} / {best['mrr@20']:.4f}")
    if args.out is not None:
        report = {"config": config.to_dict(), "dataset": data.dataset, "epochs": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
