"""Ranking metrics of the evaluation protocol: Recall@k and MRR@k over all catalogue items.

The true next item is ranked against every item, with ties counted against the model: its
rank is the number of items that score at least as high as it does (itself included).
"""

import numpy as np
import numpy.typing as npt


def conservative_ranks(
    scores: npt.NDArray[np.float32], targets: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """(b,) rank >= 1 of each target; a NaN score counts as beating the target, never losing.

    A NaN target score gets the worst rank, n_items, so a broken model cannot score well.
    """
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError(
            f"scores (b, n_items) and targets (b,) expected, got {scores.shape} and {targets.shape}"
        )
    n_items = scores.shape[1]
    if len(targets) and (targets.min() < 0 or targets.max() >= n_items):
        raise ValueError(f"targets must lie in [0, {n_items})")
    target_scores = scores[np.arange(len(targets)), targets][:, None]  # (b, 1)
    # NaN compares false with everything, so it is counted explicitly as a tie or better
    at_least = (scores >= target_scores) | np.isnan(scores)  # (b, n_items)
    ranks: npt.NDArray[np.int64] = at_least.sum(axis=1, dtype=np.int64)  # (b,)
    ranks[np.isnan(target_scores[:, 0])] = n_items
    return ranks


class RankingMetrics:
    """Accumulates Recall@k and MRR@k over events, in float64, for several cutoffs k."""

    __slots__ = ("_hits", "_n_events", "_reciprocal_ranks", "cutoffs")

    def __init__(self, cutoffs: tuple[int, ...] = (10, 20)) -> None:
        if not cutoffs or min(cutoffs) < 1:
            raise ValueError(f"cutoffs must be positive, got {cutoffs}")
        self.cutoffs = cutoffs
        self._hits = np.zeros(len(cutoffs), dtype=np.float64)  # events with rank <= k
        self._reciprocal_ranks = np.zeros(len(cutoffs), dtype=np.float64)  # sum of 1/rank <= k
        self._n_events = 0

    @property
    def n_events(self) -> int:
        return self._n_events

    def add(self, ranks: npt.NDArray[np.int64]) -> None:
        """Adds (b,) ranks from `conservative_ranks`."""
        if ranks.ndim != 1:
            raise ValueError(f"ranks (b,) expected, got shape {ranks.shape}")
        if len(ranks) and ranks.min() < 1:
            raise ValueError("ranks start at 1")
        reciprocal = 1.0 / ranks.astype(np.float64)  # (b,)
        for i, k in enumerate(self.cutoffs):
            within = ranks <= k
            self._hits[i] += within.sum()
            self._reciprocal_ranks[i] += reciprocal[within].sum()
        self._n_events += len(ranks)

    def result(self) -> dict[str, float]:
        """{"recall@k": ..., "mrr@k": ...} for each cutoff, in the order given."""
        if self._n_events == 0:
            raise ValueError("no events were added")
        out: dict[str, float] = {}
        for i, k in enumerate(self.cutoffs):
            out[f"recall@{k}"] = float(self._hits[i]) / self._n_events
            out[f"mrr@{k}"] = float(self._reciprocal_ranks[i]) / self._n_events
        return out
