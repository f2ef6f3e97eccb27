"""The test table over several seeds: how much of a difference is the model, how much luck.

    python -m models.seeds --config build/tuned.toml (--data LOG | --train A --valid B
        --test C) [--seeds 5] [--out build/seeds.json] [key=value ...]

Trains the config (final purpose: train + validation) once per seed, evaluates each on test,
and prints mean, standard deviation and range beside the baselines with the config's
`[baselines]` (deterministic: one run each). On a small data set a single seed can land on
either side of a baseline; a claim is only as good as its spread.
"""

import argparse
import dataclasses
import json
import statistics
from pathlib import Path

from models.baseline_tuning import load_baselines
from models.command_line import add_data_arguments, data_source, parse
from models.evaluate import baseline_results, gru_predictions, measure
from models.prepare import prepare
from models.train import fit, model_from_checkpoint

METRICS = ("recall@20", "mrr@20")


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[float]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    add_data_arguments(parser)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="the figures as JSON")
    args, config = parse(parser, argv)
    source = data_source(args, parser.error)
    try:
        data = prepare(config, source, "final")
    except ValueError as error:
        parser.error(str(error))
    print("data:", data.dataset, flush=True)
    runs: dict[str, dict[str, list[float]]] = {"gru4rec": {m: [] for m in METRICS}}
    for seed in range(1, args.seeds + 1):
        checkpoint = fit(dataclasses.replace(config, seed=seed), data, progress=False)
        model = model_from_checkpoint(checkpoint)
        predictions = gru_predictions(
            model, data.held_out.sessions, repeat_share=config.repeat_share
        )
        figures = measure(predictions)
        for metric in METRICS:
            runs["gru4rec"][metric].append(figures[metric])
        print(f"seed {seed}: " + " ".join(f"{m} {figures[m]:.4f}" for m in METRICS), flush=True)
    for name, result in baseline_results(data, load_baselines(args.config)).items():
        runs[name] = {m: [result[m]] for m in METRICS}
    print(table(runs, int(figures["events"])))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"dataset": data.dataset, "runs": runs}, indent=2) + "\n")
    return runs


def table(runs: dict[str, dict[str, list[float]]], events: int) -> str:
    lines = [f"| model | runs | {' | '.join(f'{m} mean ± sd (min-max)' for m in METRICS)} |"]
    lines.append("|---|---:|" + "---:|" * len(METRICS))
    for name, figures in runs.items():
        cells = []
        for metric in METRICS:
            values = figures[metric]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            mean, low, high = statistics.mean(values), min(values), max(values)
            cells.append(f"{mean:.4f} ± {spread:.4f} ({low:.4f}-{high:.4f})")
        lines.append(f"| {name} | {len(figures[METRICS[0]])} | {' | '.join(cells)} |")
    return "\n".join(lines) + f"\n\ntest events: {events}"


if __name__ == "__main__":
    main()
