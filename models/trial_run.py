"""One tuning trial: train on train, validate after every epoch, stop as soon as it is decided.

A trial ends in one of these outcomes, each kept in the trials table:
- "complete": it ran `max_epochs`, or validation stopped improving for `patience` epochs
  (early stopping); its epoch count is the best validation epoch;
- "pruned": from epoch 2 on, below the median of earlier trials at that epoch (Optuna's
  pruner);
- "collapsed": from epoch 2 on, validation below the most-popular baseline's, which a model
  that learned anything beats (a learning rate too high lands here, near random);
- "diverged": the loss became NaN or infinite;
- "budget": the time budget ran out during it (its best epoch so far still counts).
Where validation's sessions repeat items, each epoch is judged at its best `repeat_share`
(models/repeats.py), recorded in its row: the epoch and the share are chosen together.
"""

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.config import TrainConfig
from models.evaluate import measure_repeat_shares
from models.gru4rec import GRU4Rec
from models.prepare import Prepared
from models.repeats import REPEAT_SHARES, has_repeats
from models.train import TrainingDiverged, new_model, train_epochs

COLLAPSE_FROM_EPOCH = 2
Objective = Callable[[Mapping[str, float]], float]  # validation figures -> higher is better


@dataclass
class TrialResult:
    outcome: str = "complete"
    epochs: list[dict[str, float]] = field(default_factory=list)  # validation per epoch
    seconds: float = 0.0
    detail: str = ""

    def best(self) -> dict[str, float] | None:
        return max(self.epochs, key=lambda row: row["objective"]) if self.epochs else None


class _Stop(Exception):
    def __init__(self, outcome: str, detail: str = "") -> None:
        super().__init__(outcome)
        self.outcome, self.detail = outcome, detail


def run_trial(
    config: TrainConfig,
    point: dict[str, Any],
    data: Prepared,
    *,
    objective: Objective,
    floor: float,
    max_epochs: int,
    patience: int,
    deadline: float,
    report: Callable[[int, float], bool],
) -> TrialResult:
    """Train `config` with `point` for up to `max_epochs`; `report(epoch, value)` tells the
    pruner and answers whether to prune; `floor` is most-popular's objective on validation."""
    trial_config = dataclasses.replace(config, **point, n_epochs=max_epochs)
    model, optimizer = new_model(trial_config, len(data.vocab))
    result = TrialResult()
    t0 = time.monotonic()

    held_out = data.held_out.sessions
    shares = REPEAT_SHARES if has_repeats(held_out) else (0.0,)

    def validate(epoch: int, trained: GRU4Rec) -> None:
        judged = [
            (objective(figures), -share, figures)
            for share, figures in zip(
                shares, measure_repeat_shares(trained, held_out, shares), strict=True
            )
        ]
        value, minus_share, figures = max(judged, key=lambda row: row[:2])  # ties: less share
        result.epochs.append(
            {"epoch": epoch, **figures, "repeat_share": -minus_share, "objective": value}
        )
        best = result.best()
        assert best is not None
        if epoch >= COLLAPSE_FROM_EPOCH and value < floor:
            raise _Stop("collapsed", f"objective {value:.4f} below most-popular's {floor:.4f}")
        if report(epoch, value):
            raise _Stop("pruned", f"epoch {epoch}: below the median of earlier trials")
        if epoch - int(best["epoch"]) >= patience:
            raise _Stop("complete", f"early stop: best at epoch {int(best['epoch'])}")
        if time.monotonic() > deadline and epoch < max_epochs:
            raise _Stop("budget", f"the time budget ran out after epoch {epoch}")

    try:
        train_epochs(trial_config, model, optimizer, data.train, data.item_counts, False, validate)
    except _Stop as stop:
        result.outcome, result.detail = stop.outcome, stop.detail
    except TrainingDiverged as error:
        result.outcome, result.detail = "diverged", str(error)
    result.seconds = time.monotonic() - t0
    return result
