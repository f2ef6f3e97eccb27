"""One command from data to bundle: train (final purpose), evaluate beside the baselines, export.

    python -m models.pipeline --config models/configs/microlens.toml \
        --data ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz --out bundles/microlens \
        [--content-items uploads.csv] [content_encoder=minilm ...]

Trains on train + validation with the chosen configuration, evaluates on test (model and
baselines, the same split), writes the bundle (metrics in its manifest),
`build/<bundle name>-report.json` and the checkpoint `build/checkpoints/<bundle name>.pt`.
With `synthetic_users` in the config it needs no data file (the demo bundle).
`--content-items` (an item,title CSV, e.g. the uploads exported from the service) adds the
titled items that training never saw, as rows of their own (models/content_export.py).
"""

import argparse
import json
import time
from pathlib import Path

import torch

from models.baseline_tuning import load_baselines
from models.command_line import add_data_arguments, data_source, parse
from models.evaluate import evaluate_all, format_table, report
from models.export import export
from models.prepare import prepare
from models.titles import read_titles
from models.train import fit, model_from_checkpoint


def collapsed(results: dict[str, dict[str, float]]) -> bool:
    """Below most-popular on Recall@20 and MRR@20: the model learned nothing worth serving."""
    popular = results.get("most_popular")
    model = results["gru4rec"]
    return popular is not None and all(model[m] < popular[m] for m in ("recall@20", "mrr@20"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--clusters", type=int, default=32)
    parser.add_argument("--content-items", type=Path, default=None, help="item,title CSV")
    parser.add_argument(
        "--allow-collapsed", action="store_true", help="export a model below most-popular"
    )
    args, config = parse(parser, argv)
    source = data_source(args, parser.error)
    print("config:", config.to_dict())
    try:
        data = prepare(config, source, "final")
    except ValueError as error:
        parser.error(str(error))
    print("data:", data.dataset)
    checkpoint = fit(config, data)
    checkpoint_path = Path("build/checkpoints") / f"{args.out.name}.pt"
    checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, checkpoint_path)  # for models.evaluate and --resume
    print(f"trained in {checkpoint['train_seconds']:.0f} s; checkpoint: {checkpoint_path}")
    t0 = time.time()
    baselines = None if args.no_baselines else load_baselines(args.config)
    results = evaluate_all(model_from_checkpoint(checkpoint), data, baselines, config.repeat_share)
    print(f"evaluated in {time.time() - t0:.0f} s on the {data.dataset['held_out']} split")
    print(format_table(results))
    if collapsed(results) and not args.allow_collapsed:
        raise SystemExit(
            "the trained model ranks worse than most-popular on both metrics: it collapsed "
            "(a learning rate too high does this); no bundle written. `make tune` chooses "
            "settings that train on this data (--allow-collapsed exports it anyway)"
        )
    manifest, parity = export(
        checkpoint,
        args.out,
        results,
        n_clusters=args.clusters,
        query_sessions=data.held_out.sessions,
        train_sessions=data.train,
        content_items=read_titles(args.content_items) if args.content_items else None,
    )
    full_report = {**report(results, data), "train_seconds": checkpoint["train_seconds"]}
    report_path = Path("build") / f"{args.out.name}-report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(full_report, indent=2) + "\n")
    size_mb = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    print(f"bundle {manifest.version} -> {args.out} ({size_mb:.1f} MB); report: {report_path}")
    print(f"index: {manifest.index['type']} {manifest.index['params']}; parity: {parity}")


if __name__ == "__main__":
    main()
