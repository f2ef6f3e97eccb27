"""What `make tune` leaves behind: the chosen config as TOML, and the table of every trial.

The TOML holds every TrainConfig key (the base config resolved, the search's choice and the
epoch count validation chose) and a `[baselines]` table, so that `models.pipeline --config`
takes it as it is and needs nothing else to reproduce the run.
"""

import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from models.baseline_tuning import BaselineSettings
from models.config import TrainConfig

TABLE_KNOBS = (
    *("loss", "hidden_size", "batch_size", "learning_rate", "momentum", "dropout_embed"),
    *("dropout_hidden", "n_sample", "sample_alpha", "bpreg", "logq"),
)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no TOML form here")
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's


def config_toml(
    config: TrainConfig, baselines: BaselineSettings | None, header: Sequence[str]
) -> str:
    lines = [f"# {line}" for line in header]
    lines += [f"{key} = {toml_value(value)}" for key, value in config.to_dict().items()]
    if baselines is not None:
        lines += ["", "[baselines]"]
        lines += [f"{key} = {toml_value(value)}" for key, value in baselines.to_dict().items()]
    return "\n".join(lines) + "\n"


def trials_table(rows: Sequence[dict[str, Any]], limit: int = 30) -> str:
    """One line per trial, best first (the first `limit`), and a count of each outcome."""
    head = f"{'#':>4} {'outcome':<10}{'epochs':>7}{'objective':>10}{'recall@20':>10}{'mrr@20':>8}"
    lines = [head + f"{'s':>6}  knobs"]
    ordered = sorted(rows, key=lambda r: -(r["best"] or {}).get("objective", -1.0))[:limit]
    for row in ordered:
        best = row["best"] or {}
        knobs = " ".join(f"{k}={_short(row['point'][k])}" for k in TABLE_KNOBS if k in row["point"])
        epochs = f"{int(best['epoch'])}/{row['ran']}" if best else f"-/{row['ran']}"
        figures = "".join(
            f"{best.get(key, float('nan')):>{width}.4f}"
            for key, width in (("objective", 10), ("recall@20", 10), ("mrr@20", 8))
        )
        lines.append(
            f"{row['number']:>4} {row['outcome']:<10}{epochs:>7}{figures}"
            f"{row['seconds']:>6.0f}  {knobs}"
        )
    outcomes = Counter(row["outcome"] for row in rows)
    lines.append(f"{len(rows)} trials: " + ", ".join(f"{n} {k}" for k, n in outcomes.items()))
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
