"""Exploration for the feed's bandit slots: Thompson sampling over item clusters.

Each arm is one cluster of the bundle's items with a Beta posterior over its reward rate;
a page samples one rate per arm and fills its exploration slots from the arms that sample
highest (Thompson, Biometrika 1933; Chapelle & Li, "An Empirical Evaluation of Thompson
Sampling", NIPS 2011). Within an arm, items are drawn by (popularity + 1) ^ alpha, by
rejection: a draw that hits an excluded item is drawn again, which is the exact conditional
draw and costs O(log m) per try, whatever the catalogue size; an arm nearly used up falls
back to drawing among its remaining items.
"""

from collections.abc import Set

import numpy as np
import numpy.typing as npt

from app.bandit.rewards import Posteriors

REJECTION_TRIES = 8  # draws that may hit excluded items before drawing among the rest


class ThompsonPolicy:
    """Per-arm item lists and draw weights are built once at startup, not per page."""

    __slots__ = ("_arm_cumulative", "_arm_items", "_arm_weights", "_clusters", "_n_arms")

    def __init__(
        self,
        clusters: npt.NDArray[np.int32],
        popularity: npt.NDArray[np.int64],
        popularity_alpha: float,
    ) -> None:
        if clusters.ndim != 1 or clusters.shape != popularity.shape or clusters.size == 0:
            raise ValueError(
                f"clusters {clusters.shape} and popularity {popularity.shape} "
                "must be equal, non-empty 1-D shapes"
            )
        if clusters.min() < 0:
            raise ValueError("cluster ids must be >= 0")
        self._clusters = clusters.astype(np.int64)  # (n_items,) arm of each item row
        self._n_arms = int(clusters.max()) + 1
        weights = (popularity.astype(np.float64) + 1.0) ** popularity_alpha  # (n_items,)
        by_arm = np.argsort(self._clusters, kind="stable")  # item rows grouped by arm
        bounds = np.searchsorted(self._clusters[by_arm], np.arange(self._n_arms + 1))
        self._arm_items = tuple(
            by_arm[bounds[arm] : bounds[arm + 1]] for arm in range(self._n_arms)
        )
        self._arm_weights = tuple(weights[items] for items in self._arm_items)
        self._arm_cumulative = tuple(np.cumsum(arm_weights) for arm_weights in self._arm_weights)

    @property
    def n_arms(self) -> int:
        return self._n_arms

    def choose(
        self,
        n_slots: int,
        posteriors: Posteriors,
        avoid_arms: Set[int],
        excluded: Set[int],
        rng: np.random.Generator,
    ) -> list[tuple[int, int]]:
        """Up to n_slots distinct (item_row, arm), one arm per slot in sampled order.

        An arm repeats only once every usable arm has had a slot; fewer items come back
        when the arms run out of items outside `excluded`.
        """
        alpha, beta = posteriors
        if alpha.shape != (self._n_arms,) or beta.shape != (self._n_arms,):
            raise ValueError(f"posteriors must have shape ({self._n_arms},) each")
        theta = rng.beta(alpha, beta)  # (n_arms,) one sampled reward rate per arm
        ranked = [int(arm) for arm in np.argsort(-theta, kind="stable")]
        arms = [arm for arm in ranked if arm not in avoid_arms] or ranked
        taken = set(excluded)  # excluded or chosen already
        chosen: list[tuple[int, int]] = []
        while len(chosen) < n_slots:
            before = len(chosen)
            for arm in arms:
                item_row = self._draw(arm, taken, rng)
                if item_row is None:
                    continue
                chosen.append((item_row, arm))
                taken.add(item_row)
                if len(chosen) == n_slots:
                    break
            if len(chosen) == before:  # every arm is out of eligible items
                break
        return chosen

    def _draw(self, arm: int, taken: Set[int], rng: np.random.Generator) -> int | None:
        """One item of the arm not yet taken, by popularity weight; None if none is left."""
        items, cumulative = self._arm_items[arm], self._arm_cumulative[arm]  # (m,) each
        if items.size == 0:
            return None
        for _ in range(REJECTION_TRIES):
            pick = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
            item_row = int(items[min(pick, items.size - 1)])
            if item_row not in taken:
                return item_row
        eligible = np.array([row not in taken for row in items.tolist()], dtype=bool)  # (m,)
        if not eligible.any():
            return None
        remaining = np.cumsum(self._arm_weights[arm][eligible])
        pick = int(np.searchsorted(remaining, rng.random() * remaining[-1], side="right"))
        return int(items[eligible][min(pick, remaining.size - 1)])

    def dominant_arms(self, model_rows: npt.NDArray[np.int64], share: float = 0.5) -> set[int]:
        """The fewest arms that hold at least `share` of the model's ranked items.

        These are the session's echo chamber, which exploration slots avoid.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must lie in [0, 1], got {share}")
        if model_rows.size == 0 or share == 0.0:
            return set()
        counts = np.bincount(self._clusters[model_rows], minlength=self._n_arms)  # (n_arms,)
        order = np.argsort(-counts, kind="stable")  # largest first, ties by arm id
        covered = np.cumsum(counts[order])
        n_dominant = int(np.searchsorted(covered, share * model_rows.size, side="left")) + 1
        return {int(arm) for arm in order[:n_dominant]}
