"""The hyperparameter search space of `make tune`, in one place (the README's table is this).

Ranges bracket the settings published for GRU4Rec on YOOCHOOSE, Diginetica and others
(hidden 64-512, batch 32-256, Adagrad step 0.01-0.25, momentum up to 0.9, BPR-max
regularisation up to 2, cross-entropy with log-Q correction). Loss-specific knobs are only
drawn for their loss, so a trial never spends its budget on a knob that does nothing.
"""

from typing import Any, Protocol

LOSSES = ("bpr-max", "cross-entropy")
NEGATIVES = (0, 512, 1024, 2048)  # extra negatives per mini-batch besides the batch's own


class Trial(Protocol):
    """The part of optuna.Trial the space uses (kept narrow, so that tests can replay it)."""

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...


def suggest(trial: Trial) -> dict[str, Any]:
    """One point of the space: config keys and values (stepped floats rounded, so that the
    tuned TOML says 0.3, not 0.30000000000000004)."""
    loss = trial.suggest_categorical("loss", LOSSES)
    point: dict[str, Any] = {
        "loss": loss,
        "hidden_size": trial.suggest_int("hidden_size", 64, 512, step=32),
        "batch_size": trial.suggest_int("batch_size", 32, 256, step=16),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.25, log=True),
        "momentum": trial.suggest_float("momentum", 0.0, 0.9, step=0.05),
        "dropout_embed": trial.suggest_float("dropout_embed", 0.0, 0.5, step=0.05),
        "dropout_hidden": trial.suggest_float("dropout_hidden", 0.0, 0.7, step=0.05),
        "n_sample": trial.suggest_categorical("n_sample", NEGATIVES),
        "sample_alpha": trial.suggest_float("sample_alpha", 0.0, 1.0, step=0.05),
    }
    if loss == "bpr-max":
        point["bpreg"] = trial.suggest_float("bpreg", 0.0, 2.0, step=0.05)
        point["elu_param"] = trial.suggest_float("elu_param", 0.0, 1.0, step=0.25)
    else:
        point["logq"] = trial.suggest_float("logq", 0.0, 1.0, step=0.25)
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in point.items()}


def starting_point(config: dict[str, Any]) -> dict[str, Any]:
    """The given config as a point of the space, tried first: a search can then only keep or
    beat what the user had, on validation."""
    keys = ["loss", "hidden_size", "batch_size", "learning_rate", "momentum", "dropout_embed"]
    keys += ["dropout_hidden", "n_sample", "sample_alpha"]
    keys += ["bpreg", "elu_param"] if config["loss"] == "bpr-max" else ["logq"]
    point = {key: config[key] for key in keys}
    if point["n_sample"] not in NEGATIVES:  # a choice outside the list: the sampler draws it
        del point["n_sample"]
    return point
