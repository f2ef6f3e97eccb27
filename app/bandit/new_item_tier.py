"""The new-item tier: a share of each page's exploration slots for uploads still being tried out.

An upload is in the tier until it has `graduate_at` impressions (on any replica, from any
slot). Each tier slot takes the upload that ranks first by Thompson sampling over a Beta
posterior of its engagement (Thompson, Biometrika 1933), the same posterior the cluster arms
use (rewards.py), with every upload that has no impression yet ranked ahead of the rest: a new
item's first impressions come on the next pages, and among items with some, the ones that
engage are drawn more often and so graduate sooner (promoted). A swipe on an item a tier slot
served credits its posterior with the swipe's weight.
"""

from collections.abc import Iterator, Set

import numpy as np
import numpy.typing as npt

from app.bandit.new_item_stats import NewItemStats
from app.catalogue.snapshot import Catalogue

NEW_ITEM_ARM = -1  # the "arm" a session keeps for an item a tier slot served (state.py)
# positions ordered per tier slot before the rest is sorted: enough that a page almost never
# needs more, when some of the best are already on it (`taken`)
HEAD_PER_SLOT = 8


class NewItemTier:
    __slots__ = ("_graduate_at", "_share", "stats")

    def __init__(self, stats: NewItemStats, share: float, graduate_at: int) -> None:
        if not 0.0 <= share <= 1.0 or graduate_at < 1:
            raise ValueError("share must lie in [0, 1] and graduate_at be at least 1")
        self.stats = stats
        self._share = share
        self._graduate_at = graduate_at

    def slots(self, n_explore: int) -> int:
        """Tier slots among `n_explore` exploration slots: the share, rounded half up, at least
        one while the share is not 0."""
        if n_explore == 0 or self._share == 0.0:
            return 0
        return min(n_explore, max(1, int(n_explore * self._share + 0.5)))

    def choose(
        self, n_slots: int, catalogue: Catalogue, taken: Set[int], rng: np.random.Generator
    ) -> list[tuple[int, float]]:
        """Up to n_slots (upload row, posterior mean) outside `taken`, best first.

        Draws nothing from `rng` when no upload is in the tier, so that a catalogue without
        uploads pages exactly as before there were any."""
        rows = catalogue.active_uploads  # (U',) upload rows not taken down
        if n_slots == 0 or rows.size == 0:
            return []
        impressions, rewards = self.stats.counts(catalogue.ordinals[rows - catalogue.n_bundle])
        young = impressions < self._graduate_at
        if not young.any():
            return []
        rows, impressions, rewards = rows[young], impressions[young], rewards[young]
        alpha = 1.0 + rewards  # Beta(1, 1) prior, fractional successes (as in rewards.py)
        beta = 1.0 + np.maximum(impressions - rewards, 0.0)
        priority = _thompson_draws(alpha, beta, rng) + (impressions == 0)  # unseen ones first
        chosen: list[tuple[int, float]] = []
        for position in _best_first(priority, HEAD_PER_SLOT * n_slots):
            row = int(rows[position])
            if row in taken:
                continue
            chosen.append((row, float(alpha[position] / (alpha[position] + beta[position]))))
            if len(chosen) == n_slots:
                break
        return chosen

    def record_impressions(self, catalogue: Catalogue, rows: tuple[int, ...]) -> int:
        """Count the uploads among a page's rows; returns how many there were."""
        ordinals = [ordinal for row in rows if (ordinal := catalogue.ordinal(row)) is not None]
        if ordinals:
            self.stats.record_impressions(ordinals)
        return len(ordinals)

    def record_reward(self, catalogue: Catalogue, row: int, reward: float) -> None:
        ordinal = catalogue.ordinal(row)
        if ordinal is not None:
            self.stats.record_reward(ordinal, reward)

    def impressions(self, catalogue: Catalogue, row: int) -> int | None:
        """An upload's impressions as far as this replica knows; None for a bundle item."""
        ordinal = catalogue.ordinal(row)
        if ordinal is None:
            return None
        impressions, _ = self.stats.counts(np.array([ordinal], dtype=np.int64))
        return round(float(impressions[0]))


def _thompson_draws(
    alpha: npt.NDArray[np.float64], beta: npt.NDArray[np.float64], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """One Beta(alpha, beta) draw each. Beta(1, 1), the posterior of an upload with no
    impression and no reward (all of them, in a burst), is uniform, and a uniform is far
    cheaper to draw than numpy's general Beta (loadtest/tier_bench.py times the whole choice)."""
    draws = np.empty(len(alpha), dtype=np.float64)
    flat = (alpha == 1.0) & (beta == 1.0)
    draws[flat] = rng.random(int(flat.sum()))
    draws[~flat] = rng.beta(alpha[~flat], beta[~flat])
    return draws


def _best_first(priority: npt.NDArray[np.float64], head: int) -> Iterator[int]:
    """Positions by descending priority, ties by position: the best `head` by a partial sort
    (linear, where the full sort of every upload is n log n), the rest only if asked for."""
    order = np.argpartition(-priority, head) if head < len(priority) else np.arange(len(priority))
    first, rest = order[:head], order[head:]
    yield from first[np.lexsort((first, -priority[first]))].tolist()
    yield from rest[np.lexsort((rest, -priority[rest]))].tolist()
