"""Drop the candidates a session must not see again, and size the search so a page stays full.

On the feed path, between the FAISS search and the exploration slots: the search fetches
`fetch_size` candidates, `drop_excluded` removes the seen and served ones in one vectorised
pass and keeps the model's order.
"""

from collections.abc import Set

import numpy as np
import numpy.typing as npt


def fetch_size(count: int, n_excluded: int, n_items: int) -> int:
    """Candidates to fetch so that `count` remain even if every excluded item is among them.

    The excluded items are the session's own picks, so they tend to rank near the top: the
    search must assume they all do, and one search then always suffices.
    """
    return max(0, min(count + n_excluded, n_items))


def excluded_rows(excluded: Set[int] | npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A set or array of rows -> (n,) int64 array, the form np.isin is fast on."""
    if isinstance(excluded, np.ndarray):
        return excluded.astype(np.int64, copy=False).ravel()
    return np.fromiter(excluded, dtype=np.int64, count=len(excluded))


def drop_excluded(
    rows: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    excluded: Set[int] | npt.NDArray[np.int64],
    count: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(n,) rows and scores -> at most `count` of them, excluded rows removed, order kept."""
    if rows.ndim != 1 or rows.shape != scores.shape:
        raise ValueError(f"rows {rows.shape} and scores {scores.shape} must be equal 1-D shapes")
    keep = ~np.isin(rows, excluded_rows(excluded))  # (n,) bool
    kept_rows, kept_scores = rows[keep], scores[keep]
    count = max(count, 0)
    return kept_rows[:count], kept_scores[:count]
