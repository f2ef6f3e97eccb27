"""`make tune`: a time-budgeted hyperparameter search on the validation split, from the command
line alone, ending in a TOML that `models.pipeline --config` takes as it is.

    python -m models.tune --config BASE.toml (--data LOG | --train A --valid B) \
        [--budget-min 60] [--trials N] [--max-epochs 10] [--patience 2] \
        [--out build/tuned.toml] [key=value ...]

Trains on train, measures full-ranking Recall@20 / MRR@20 on validation; test is never read.
The search is Optuna's TPE sampler (seeded) over models/search_space.py, the base config
tried first, with the median pruner; each trial's epoch count is chosen by validation with
early stopping, and collapsed or diverged trials are stopped and reported (models/trial_run.py).
The baselines' own knobs are tuned on the same validation first (models/baseline_tuning.py).
Optuna rather than a grid or random search: TPE finds good GRU4Rec settings in tens of
trials, pruning stops hopeless ones after an epoch or two, and it is what the official
GRU4Rec's parameter optimisation uses, so its ranges and habits carry over.
"""

import argparse
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from tqdm import tqdm

from models.baseline_tuning import tune_baselines
from models.baselines import MostPopular
from models.command_line import add_data_arguments, data_source, parse
from models.config import TrainConfig
from models.evaluate import measure
from models.prepare import prepare
from models.search_space import LOSSES, starting_point, suggest
from models.trial_run import Objective, run_trial
from models.tuned_config import config_toml, trials_table

METRICS = ("both", "mrr@20", "recall@20")
BOTH = ("recall@20", "mrr@20")


def objective_for(metric: str, reference: Mapping[str, float] | None) -> Objective:
    """What a trial maximises. "both" takes its Recall@20 and MRR@20 each as a share of the
    best tuned baseline's: while either share is below 1, the weaker share (what must
    improve to beat every baseline on both); once both are above 1, their harmonic mean, so
    that neither is given away (the weaker share alone let a trial 11% worse on MRR@20 win on
    0.0001 of Recall@20, on MicroLens). Above 1 means: better than every baseline on both.
    Without a reference, their sum (how the baselines themselves are chosen for "both")."""
    if metric != "both":
        return lambda figures: figures[metric]
    if reference is None:
        return lambda figures: sum(figures[m] for m in BOTH)
    scale = {m: max(reference[m], 1e-9) for m in BOTH}

    def shares_score(figures: Mapping[str, float]) -> float:
        shares = [max(figures[m] / scale[m], 1e-9) for m in BOTH]
        if min(shares) < 1.0:
            return min(shares)
        return len(shares) / sum(1 / share for share in shares)

    return shares_score


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, TrainConfig]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="the base config (TOML)")
    add_data_arguments(parser)
    parser.add_argument("--budget-min", type=float, default=60.0, help="minutes, baselines too")
    parser.add_argument("--trials", type=int, default=0, help="at most this many (0: budget)")
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--patience", type=int, default=2, help="epochs without a better one")
    parser.add_argument(
        "--metric", choices=METRICS, default="both", help="what validation chooses by"
    )
    parser.add_argument("--no-baselines", action="store_true", help="keep their defaults")
    parser.add_argument("--out", type=Path, default=Path("build/tuned.toml"))
    args, config = parse(parser, argv)
    args.source = data_source(args, parser.error)
    if args.max_epochs < 1 or args.patience < 1 or args.budget_min <= 0:
        parser.error("--max-epochs and --patience must be >= 1, --budget-min > 0")
    try:
        args.data = prepare(config, args.source, "tune")
    except ValueError as error:
        parser.error(str(error))
    return args, config


def main(argv: list[str] | None = None) -> Path:
    args, config = parse_args(argv)
    started = time.monotonic()
    deadline = started + args.budget_min * 60
    data = args.data
    print("data:", data.dataset, flush=True)
    valid = data.held_out.sessions
    popular = measure(MostPopular(data.item_counts).predict(valid))

    baselines, baseline_figures = None, dict[str, dict[str, float]]()
    if not args.no_baselines:

        def said(name: str, knobs: dict[str, Any], value: float) -> None:
            print(f"  {name} {knobs}: {value:.4f}", flush=True)

        print(f"baselines on validation ({args.metric}):", flush=True)
        baselines, baseline_figures = tune_baselines(
            data.train, valid, len(data.vocab), measure, objective_for(args.metric, None), said
        )
        print(f"baselines chosen: {baselines.to_dict()}", flush=True)
    reference = (
        {m: max(f[m] for f in baseline_figures.values()) for m in BOTH}
        if baseline_figures
        else None
    )
    score = objective_for(args.metric, reference)
    floor = score(popular)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=config.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2),
    )
    if config.loss in LOSSES:
        study.enqueue_trial(starting_point(config.to_dict()))
    rows: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        point = suggest(trial)

        def report(epoch: int, value: float) -> bool:
            trial.report(value, epoch)
            return trial.should_prune()

        result = run_trial(
            config,
            point,
            data,
            objective=score,
            floor=floor,
            max_epochs=args.max_epochs,
            patience=args.patience,
            deadline=deadline,
            report=report,
        )
        best = result.best()
        row = {
            "number": trial.number,
            "outcome": result.outcome,
            "detail": result.detail,
            "point": point,
            "best": best,
            "ran": len(result.epochs),
            "seconds": result.seconds,
        }
        rows.append(row)
        tqdm.write(
            f"trial {trial.number}: {result.outcome} ({result.detail or 'all epochs'}); "
            + (f"{_rounded(best)}" if best else "")
        )
        if best is None or result.outcome in ("pruned", "collapsed", "diverged"):
            raise optuna.TrialPruned(result.outcome)
        trial.set_user_attr("epochs", int(best["epoch"]))
        return float(best["objective"])

    remaining = max(deadline - time.monotonic(), 1.0)
    study.optimize(
        objective,
        n_trials=args.trials or None,
        timeout=remaining,
        show_progress_bar=True,
    )
    print(trials_table(rows))
    counted = [r for r in rows if r["outcome"] in ("complete", "budget") and r["best"]]
    if not counted:
        raise SystemExit("no trial completed within the budget: raise --budget-min")
    chosen = max(counted, key=lambda r: r["best"]["objective"])
    tuned = TrainConfig(
        **{
            **config.to_dict(),
            **chosen["point"],
            "n_epochs": int(chosen["best"]["epoch"]),
            "repeat_share": float(chosen["best"]["repeat_share"]),
        }
    )
    minutes = (time.monotonic() - started) / 60
    header = [
        f"`make tune` on {data.dataset['name']}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{len(rows)} trials in {minutes:.1f} min, chosen by validation {args.metric}",
        f"validation of trial {chosen['number']}: {_rounded(chosen['best'])}",
        f"most-popular's: {_rounded(popular)}",
        *(f"tuned {name}'s: {_rounded(figures)}" for name, figures in baseline_figures.items()),
        "build the bundle: python -m models.pipeline --config THIS_FILE --data ... --out ...",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(config_toml(tuned, baselines, header))
    trials_path = args.out.with_name(args.out.stem + "-trials.jsonl")
    with trials_path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"tuned in {minutes:.1f} min; config: {args.out}; trials: {trials_path}")
    out: Path = args.out
    return out


def _rounded(figures: Mapping[str, float]) -> dict[str, float]:
    return {
        key: round(figures[key], 4)
        for key in ("recall@20", "mrr@20", "objective", "epoch", "repeat_share")
        if key in figures
    }


if __name__ == "__main__":
    main()
