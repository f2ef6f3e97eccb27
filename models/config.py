"""The training configuration: every knob of data, model, loss, sampling and optimiser.

Defaults are GRU4Rec's published Diginetica BPR-max setting; `configs/*.toml` override
them and `key=value` arguments override the file. The resolved config is printed, stored
in the checkpoint and copied into the bundle manifest.
"""

import dataclasses
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOSSES = ("bpr-max", "bpr", "cross-entropy")
DATA_FORMATS = ("auto", "sequences", "events")
SPLITS = ("auto", "user_mod", "time")
CONTENT_ENCODERS = ("hashing", "minilm")


PROJECTION_RANKED_STEPS = 1000  # the content projection's ranked training (ranked_projection.py)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    # data
    data_format: str = "auto"  # "sequences": id<TAB>item item ...; "events": log w/ header
    split: str = "auto"  # "user_mod": id % 10 == 0 test, == 1 valid; "time": the last days;
    # "auto": "time" where the sessions have times (event logs), else "user_mod"
    test_days: float = 1.0  # split "time": the last days are the test set,
    valid_days: float = 1.0  # and the days before them validation
    idle_gap_s: float = 1800.0  # event logs without session ids: cut sessions at this gap
    synthetic_users: int = 0  # > 0: train on a generated log of this many users (demo, tests)
    synthetic_items: int = 2000  # catalogue size of the generated log
    synthetic_topics: int = 20  # item categories of the generated log (its embedding clusters)
    titles: str = ""  # item,title CSV (path from the repo root); the generated log makes its own
    # content (uploads): what turns a title into a vector, projected into the item space
    content_encoder: str = "hashing"  # "hashing" (bag of words, numpy) or "minilm" (ONNX)
    content_dim: int = 4096  # slots of the hashing encoder; MiniLM's is its own, 384
    # the ranked projection's longest training, in steps; judged also at 1/10 and 3/10 of it
    projection_ranked_steps: int = PROJECTION_RANKED_STEPS
    # model
    hidden_size: int = 512  # GRU units, also the item embedding width (constrained embedding)
    dropout_embed: float = 0.5  # dropout on the input item embedding
    dropout_hidden: float = 0.3  # dropout on the GRU output (the state carried forward)
    attention_window: int = 0  # > 0: NARM attention over the last K states (attention.py)
    # loss
    loss: str = "bpr-max"  # "bpr-max" (CIKM 2018), "bpr" (ICLR 2016), "cross-entropy"
    bpreg: float = 0.9  # BPR-max score regulariser weight
    elu_param: float = 1.0  # alpha of the ELU applied to scores before BPR-max; 0 disables
    logq: float = 0.0  # strength of the log-Q sampling correction for cross-entropy
    # negative sampling
    n_sample: int = 2048  # extra negatives shared across the mini-batch
    sample_alpha: float = 0.3  # extra negatives drawn with probability ~ popularity^alpha
    sample_cache_batches: int = 1000  # mini-batches of negatives drawn at once (speed)
    # optimisation
    batch_size: int = 128  # parallel sessions per mini-batch
    learning_rate: float = 0.05  # Adagrad step size
    momentum: float = 0.15  # momentum on the Adagrad step
    n_epochs: int = 10  # passes over the training sessions
    shuffle: bool = True  # shuffle the session order every epoch (no timestamps to order by)
    seed: int = 42  # seeds torch, numpy and the sampler
    threads: int = 0  # torch CPU threads; 0 = one per core. Oversubscribed cores slow 20x
    # evaluation: the next-item share of the session's own items (models/repeats.py), chosen
    # on validation by `make tune`; a feed that drops seen items is not changed by it
    repeat_share: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.data_format not in DATA_FORMATS:
            raise ValueError(f"data_format must be one of {DATA_FORMATS}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}")
        if self.content_encoder not in CONTENT_ENCODERS:
            raise ValueError(f"content_encoder must be one of {CONTENT_ENCODERS}")
        for name in (
            "hidden_size",
            "batch_size",
            "n_epochs",
            "sample_cache_batches",
            "content_dim",
            "projection_ranked_steps",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("dropout_embed", "dropout_hidden"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1)")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError("momentum must be in [0, 1)")
        if not 0.0 <= self.repeat_share < 1.0:
            raise ValueError("repeat_share must be in [0, 1)")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError("learning_rate must be a finite number > 0")
        for name in ("test_days", "valid_days"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a finite number > 0")
        for name in ("bpreg", "elu_param", "logq", "sample_alpha", "idle_gap_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0")
        for name in ("n_sample", "seed", "threads", "synthetic_users", "attention_window"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _cast(name: str, value: Any, kind: type) -> Any:
    """Type-check one override; strings from the command line are parsed."""
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text not in ("true", "false", "1", "0"):
                raise ValueError(f"{name}: expected true or false, got {value!r}")
            return text in ("true", "1")
        try:
            return kind(value)
        except ValueError:
            raise ValueError(f"{name}: expected {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{name}: expected {kind.__name__}, got {value!r}")
    return value


def load(path: Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Defaults, then the TOML file, then `key=value` overrides, each checked against its type."""
    kinds = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    values: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    if path is not None:
        with path.open("rb") as f:
            raw.update(tomllib.load(f))
        raw.pop("baselines", None)  # the baselines' own table (models/baseline_tuning.py)
    for item in overrides:
        key, sep, value = item.removeprefix("--").partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        raw[key.replace("-", "_")] = value
    for key, value in raw.items():
        if key not in kinds:
            raise ValueError(f"unknown config key {key!r}; known: {', '.join(kinds)}")
        kind = kinds[key]
        assert isinstance(kind, type)
        values[key] = _cast(key, value, kind)
    return TrainConfig(**values)
