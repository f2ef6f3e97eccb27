"""Baselines scored like the model: most-popular, item-kNN and V-SKNN, over all items.

Item-kNN is the baseline of the GRU4Rec paper (Hidasi et al., ICLR 2016); V-SKNN is the
vector session-kNN of Ludewig & Jannach, "Evaluation of session-based recommendation
algorithms" (UMUAI 2018). All three score every item for every prefix of a test session.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from models.sessions import Sessions

# scores (b, n_items) and targets (b,) of a chunk of prediction points
Prediction = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]
# scores (b, n_items) of the prefixes sessions.session(s)[:t] for (s, t) given as two (b,) arrays
ScoreFn = Callable[
    [Sessions, npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.float32]
]
# how V-SKNN compares a prefix with a training session (see VSKNN)
Similarity = Literal["dot", "cosine"]


class Predictor(Protocol):
    """Scores every item for each prediction point, in `Sessions.prediction_points()` order."""

    def predict(self, sessions: Sessions, max_rows: int = 1024) -> Iterator[Prediction]: ...


def _predict(score: ScoreFn, sessions: Sessions, max_rows: int) -> Iterator[Prediction]:
    """Yields (scores, targets) for at most `max_rows` prediction points at a time."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    session_index, positions = sessions.prediction_points()  # (n_predictions,) each
    for start in range(0, len(positions), max_rows):
        s, t = session_index[start : start + max_rows], positions[start : start + max_rows]
        yield score(sessions, s, t), sessions.items[sessions.offsets[s] + t]


def _session_item_matrix(train: Sessions, n_items: int) -> sp.csr_array:
    """(n_sessions, n_items) 1.0 where the session holds the item, however often."""
    if train.n_events and (train.items.min() < 0 or train.items.max() >= n_items):
        raise ValueError(f"training item rows must lie in [0, {n_items})")
    rows = np.repeat(np.arange(train.n_sessions, dtype=np.int64), train.lengths)
    ones = np.ones(train.n_events, dtype=np.float64)
    matrix = sp.csr_array((ones, (rows, train.items)), shape=(train.n_sessions, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _top_per_row(
    rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64], keys: npt.NDArray[np.float64], k: int
) -> npt.NDArray[np.int64]:
    """Indices of the k entries with the largest key in each row; ties go to the larger column."""
    order = np.lexsort((-cols, -keys, rows))  # by row, then key and column descending
    sorted_rows = rows[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_rows, sorted_rows)  # 0 = best in row
    return order[rank < k]


@dataclass(frozen=True, slots=True, eq=False)
class MostPopular:
    """Scores every prefix with the training popularity of each item."""

    item_counts: npt.NDArray[np.int64]  # (n_items,) occurrences in training

    def predict(self, sessions: Sessions, max_rows: int = 1024) -> Iterator[Prediction]:
        return _predict(self._score, sessions, max_rows)

    def _score(
        self, sessions: Sessions, session_index: npt.NDArray[np.int64], _: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        popularity = self.item_counts.astype(np.float32)
        return np.tile(popularity, (len(session_index), 1))  # (b, n_items)


@dataclass(frozen=True, slots=True, eq=False)
class ItemKNN:
    """Scores items by their similarity to the last item of the prefix (Hidasi et al. 2016).

    An item is not its own neighbour (as in the GRU4Rec paper's code), so the last item
    itself scores 0. Of neighbours tied at the cut, the higher item rows are kept.
    """

    similarity: sp.csr_array  # (n_items, n_items), at most n_neighbors entries per row

    @classmethod
    def fit(
        cls,
        train: Sessions,
        n_items: int,
        n_neighbors: int = 100,
        lambda_: float = 20.0,
        alpha: float = 0.5,
    ) -> "ItemKNN":
        """sim(i, j) = sessions with both / ((supp_i + lambda)^alpha (supp_j + lambda)^(1 - alpha)).

        supp_i is the number of training sessions holding item i; a session counts once
        however often it repeats the items.
        """
        if lambda_ < 0 or not 0 <= alpha <= 1 or n_neighbors < 1:
            raise ValueError("ItemKNN needs lambda_ >= 0, 0 <= alpha <= 1 and n_neighbors >= 1")
        holds = _session_item_matrix(train, n_items)  # (n_sessions, n_items)
        support = np.asarray(holds.sum(axis=0), dtype=np.float64)  # (n_items,)
        both = (holds.T @ holds).tocoo()  # (n_items, n_items) sessions holding i and j
        off_diagonal = both.row != both.col
        rows = both.row[off_diagonal].astype(np.int64)
        cols = both.col[off_diagonal].astype(np.int64)
        norm = (support[rows] + lambda_) ** alpha * (support[cols] + lambda_) ** (1 - alpha)
        sims = both.data[off_diagonal] / norm
        keep = _top_per_row(rows, cols, sims, n_neighbors)
        similarity = sp.csr_array((sims[keep], (rows[keep], cols[keep])), shape=(n_items, n_items))
        return cls(similarity)

    def predict(self, sessions: Sessions, max_rows: int = 1024) -> Iterator[Prediction]:
        return _predict(self._score, sessions, max_rows)

    def _score(
        self,
        sessions: Sessions,
        session_index: npt.NDArray[np.int64],
        positions: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float32]:
        last_items = sessions.items[sessions.offsets[session_index] + positions - 1]  # (b,)
        scores: npt.NDArray[np.float32] = self.similarity[last_items].toarray().astype(np.float32)
        return scores  # (b, n_items)


@dataclass(frozen=True, slots=True, eq=False)
class VSKNN:
    """Session-kNN with linearly decayed prefix weights (V-SKNN, Ludewig & Jannach 2018).

    Candidates are the training sessions sharing an item with the prefix; the `sample_size`
    most recent of them (highest session index: MicroLens has no timestamps) are compared
    with the prefix, the `k` most similar are kept (ties to the more recent), and an item
    scores the summed similarity of the neighbours holding it, prefix items included.

    Event p of a t-event prefix weighs p / t (a repeated item keeps its last weight).
    `similarity` "dot" divides the weighted dot product by the number of distinct prefix
    items; "cosine" by the prefix's weighted L2 norm times the square root of the neighbour's
    distinct item count, so long neighbours no longer win by size alone. With `score_decay`,
    a neighbour's contribution is divided by the step back from the end of the prefix to the
    latest event it shares (1 for the last), favouring neighbours found by recent events.

    The defaults, cosine with score decay, are the configuration of the public implementation
    (rn5l/session-rec, VMContextKNN): with them this code reproduces its reference figures.
    """

    holds: sp.csr_array  # (n_sessions, n_items) 1.0 where a training session holds the item
    held_by: sp.csr_array  # (n_items, n_sessions) its transpose, for prefix @ held_by
    k: int = 100
    sample_size: int = 1000
    similarity: Similarity = "cosine"
    score_decay: bool = True

    @classmethod
    def fit(
        cls,
        train: Sessions,
        n_items: int,
        k: int = 100,
        sample_size: int = 1000,
        similarity: Similarity = "cosine",
        score_decay: bool = True,
    ) -> "VSKNN":
        if k < 1 or sample_size < 1:
            raise ValueError("VSKNN needs k >= 1 and sample_size >= 1")
        if similarity not in ("dot", "cosine"):  # Literal is not checked at run time
            raise ValueError(f"similarity must be 'dot' or 'cosine', got {similarity!r}")
        holds = _session_item_matrix(train, n_items)
        return cls(holds, holds.T.tocsr(), k, sample_size, similarity, score_decay)

    def predict(self, sessions: Sessions, max_rows: int = 1024) -> Iterator[Prediction]:
        return _predict(self._score, sessions, max_rows)

    def _score(
        self,
        sessions: Sessions,
        session_index: npt.NDArray[np.int64],
        positions: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float32]:
        b, (n_sessions, n_items) = len(positions), self.holds.shape
        rows, items, last = _prefix_items(sessions, session_index, positions, n_items)
        # weights p / t are kept as p, so that dot products are sums of integers, exact in
        # float64: equal similarities then tie exactly and go to the more recent session
        prefix = sp.csr_array((last, (rows, items)), shape=(b, n_items))  # (b, n_items)
        dots = (prefix @ self.held_by).tocoo()  # (b, n_sessions), nonzero = shares an item
        d_rows, d_cols = dots.row.astype(np.int64), dots.col.astype(np.int64)
        sample = _top_per_row(d_rows, d_cols, d_cols.astype(np.float64), self.sample_size)
        d_rows, d_cols, d_dots = d_rows[sample], d_cols[sample], dots.data[sample]
        # neighbours are cut on a key that ranks them as the similarity does; the prefix's own
        # factor is one constant per prefix, so it changes no choice and no ranking of items
        if self.similarity == "cosine":
            sizes = np.diff(self.holds.indptr).astype(np.float64)  # (n_sessions,) distinct items
            # dot^2 / size, one rounding of a ratio of integers: equal cosines tie exactly
            nearest = _top_per_row(d_rows, d_cols, d_dots**2 / sizes[d_cols], self.k)
            d_rows, d_cols, d_dots = d_rows[nearest], d_cols[nearest], d_dots[nearest]
            # the t of p / t cancels between the dot product and the prefix norm
            norms = np.sqrt(np.bincount(rows, weights=last**2, minlength=b))  # (b,)
            d_sims = d_dots / (norms[d_rows] * np.sqrt(sizes[d_cols]))
        else:
            nearest = _top_per_row(d_rows, d_cols, d_dots, self.k)
            d_rows, d_cols, d_dots = d_rows[nearest], d_cols[nearest], d_dots[nearest]
            n_distinct = np.bincount(rows, minlength=b).astype(np.float64)  # (b,) >= 1
            d_sims = d_dots / (positions * n_distinct)[d_rows]  # the p / t weights, over items
        if self.score_decay:
            d_sims = d_sims / _steps_back(prefix, self.holds, d_rows, d_cols, positions)
        neighbors = sp.csr_array((d_sims, (d_rows, d_cols)), shape=(b, n_sessions))
        scores: npt.NDArray[np.float32] = (neighbors @ self.holds).toarray().astype(np.float32)
        return scores  # (b, n_items)


def _prefix_items(
    sessions: Sessions,
    session_index: npt.NDArray[np.int64],
    positions: npt.NDArray[np.int64],
    n_items: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(row, item, p) of each distinct item of each prefix; p in [1, t] is its last position.

    The last occurrence counts, as in the public V-SKNN code: for the p / t weight, and for
    the step back of the score decay.
    """
    rows = np.repeat(np.arange(len(positions), dtype=np.int64), positions)  # one per event
    starts = np.repeat(np.cumsum(positions) - positions, positions)
    within = np.arange(len(rows), dtype=np.int64) - starts  # 0-based position in the prefix
    items = sessions.items[np.repeat(sessions.offsets[session_index], positions) + within]
    # np.unique gives the first index of each (row, item) key: on the reversed keys, the last
    _, first_reversed = np.unique((rows * n_items + items)[::-1], return_index=True)
    last = len(rows) - 1 - first_reversed
    return rows[last], items[last], (within[last] + 1).astype(np.float64)


def _steps_back(
    latest: sp.csr_array,
    holds: sp.csr_array,
    rows: npt.NDArray[np.int64],
    neighbors: npt.NDArray[np.int64],
    positions: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """(n_pairs,) t - p + 1 for the latest prefix position p whose item the neighbour holds.

    Steps count events, repeats included, as the public code walks the prefix backwards.
    latest is (b, n_items) with each prefix item's last position; holds (n_sessions, n_items).
    """
    # (n_pairs, n_items): the positions of the prefix items that each neighbour holds
    shared = latest[rows].multiply(holds[neighbors])
    newest = shared.max(axis=1).toarray()  # (n_pairs,) >= 1: a neighbour shares an item
    steps: npt.NDArray[np.float64] = positions[rows] - newest + 1.0
    return steps
