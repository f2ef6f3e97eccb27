"""Extra negative samples shared across a mini-batch, drawn by popularity^alpha.

GRU4Rec (Hidasi & Karatzoglou, CIKM 2018, section 3.2) adds a few thousand sampled items
to the other targets of the mini-batch; alpha = 0 is uniform, alpha = 1 is popularity.
Samples are drawn many mini-batches at a time from a cached buffer, which is much faster
than one draw per step.
"""

import numpy as np
import numpy.typing as npt


class NegativeSampler:
    """Yields `n_sample` item rows per call from a refreshed cache of draws."""

    def __init__(
        self,
        item_counts: npt.NDArray[np.int64],
        n_sample: int,
        alpha: float,
        rng: np.random.Generator,
        cache_batches: int = 1000,
    ) -> None:
        assert item_counts.ndim == 1
        assert n_sample >= 0
        assert cache_batches >= 1
        weights = item_counts.astype(np.float64) ** alpha
        weights[item_counts == 0] = 0.0  # an item never seen in training is never sampled
        self.probabilities: npt.NDArray[np.float64] = weights / weights.sum()  # (n_items,)
        self.n_sample = n_sample
        self.cache_batches = cache_batches
        self._rng = rng
        self._cumulative = np.cumsum(self.probabilities)  # (n_items,)
        self._cache = np.zeros((0, n_sample), dtype=np.int64)
        self._next = 0

    def sample(self) -> npt.NDArray[np.int64]:
        """(n_sample,) item rows."""
        if self._next >= len(self._cache):
            # scaled to the actual total, so rounding can never reach a zero-count tail item
            uniform = self._rng.random(self.cache_batches * self.n_sample) * self._cumulative[-1]
            rows = np.searchsorted(self._cumulative, uniform, side="right")
            self._cache = rows.astype(np.int64).reshape(self.cache_batches, self.n_sample)
            self._next = 0
        batch: npt.NDArray[np.int64] = self._cache[self._next]
        self._next += 1
        return batch
