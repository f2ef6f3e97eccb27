"""The baselines' own knobs, chosen on validation, so that the model never meets a weak one.

Item-kNN's support regulariser (lambda) and asymmetry (alpha); V-SKNN's neighbours (k), the
candidate sample, the similarity and the score decay (its weighting). The search is one pass
of coordinate descent from the published defaults: each knob in turn over its values, the
others fixed at their best so far. A knob costs one fit and one validation pass per value,
cheap next to one GRU4Rec epoch, and the order of the knobs is the order of their effect in
session-rec's own sweeps (neighbours and sample first). The chosen values are written into
the `[baselines]` table of the tuned TOML, which `models.pipeline` reads back.
"""

import dataclasses
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.baselines import VSKNN, ItemKNN, Prediction, Similarity
from models.sessions import Sessions

Measure = Callable[[Iterator[Prediction]], dict[str, float]]

ITEM_KNN_VALUES: dict[str, tuple[Any, ...]] = {
    "iknn_lambda": (0.0, 5.0, 20.0, 50.0, 100.0, 200.0),
    "iknn_alpha": (0.25, 0.5, 0.75, 1.0),
}
VSKNN_VALUES: dict[str, tuple[Any, ...]] = {
    "vsknn_k": (20, 50, 100, 200, 500),
    "vsknn_sample_size": (250, 500, 1000, 2500, 5000),
    "vsknn_similarity": ("cosine", "dot"),
    "vsknn_score_decay": (True, False),
}


@dataclass(frozen=True, slots=True)
class BaselineSettings:
    """Defaults: the GRU4Rec paper's item-kNN and session-rec's VMContextKNN."""

    iknn_lambda: float = 20.0
    iknn_alpha: float = 0.5
    vsknn_k: int = 100
    vsknn_sample_size: int = 1000
    vsknn_similarity: str = "cosine"
    vsknn_score_decay: bool = True

    def __post_init__(self) -> None:
        if self.vsknn_similarity not in ("cosine", "dot"):
            raise ValueError(f"vsknn_similarity must be cosine or dot: {self.vsknn_similarity!r}")

    def item_knn(self, train: Sessions, n_items: int) -> ItemKNN:
        return ItemKNN.fit(train, n_items, lambda_=self.iknn_lambda, alpha=self.iknn_alpha)

    def vsknn(self, train: Sessions, n_items: int) -> VSKNN:
        similarity: Similarity = "cosine" if self.vsknn_similarity == "cosine" else "dot"
        return VSKNN.fit(
            train, n_items, self.vsknn_k, self.vsknn_sample_size, similarity, self.vsknn_score_decay
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_baselines(path: Path | None) -> BaselineSettings:
    """The `[baselines]` table of a config file; defaults for what it does not set."""
    if path is None:
        return BaselineSettings()
    with path.open("rb") as f:
        table = tomllib.load(f).get("baselines", {})
    known = [f.name for f in dataclasses.fields(BaselineSettings)]
    unknown = set(table) - set(known)
    if unknown:
        raise ValueError(f"{path}: unknown [baselines] keys {sorted(unknown)}; known: {known}")
    return BaselineSettings(**table)


def tune_baselines(
    train: Sessions,
    valid: Sessions,
    n_items: int,
    measure: Measure,
    objective: Callable[[Mapping[str, float]], float],
    report: Callable[[str, dict[str, Any], float], None],
) -> tuple[BaselineSettings, dict[str, dict[str, float]]]:
    """The best settings on validation by `objective` of `measure`'s figures (higher is
    better), and each baseline's validation figures with them."""
    best = BaselineSettings()
    figures: dict[str, dict[str, float]] = {}
    for name, values, make in (
        ("item_knn", ITEM_KNN_VALUES, BaselineSettings.item_knn),
        ("v_sknn", VSKNN_VALUES, BaselineSettings.vsknn),
    ):
        tried: dict[BaselineSettings, dict[str, float]] = {}
        for knob, choices in values.items():
            for value in choices:
                candidate = dataclasses.replace(best, **{knob: value})
                if candidate not in tried:
                    tried[candidate] = measure(make(candidate, train, n_items).predict(valid))
                    knobs = {k: getattr(candidate, k) for k in values}
                    report(name, knobs, objective(tried[candidate]))
            best = max(tried, key=lambda settings: objective(tried[settings]))
        figures[name] = tried[best]
    return best, figures
