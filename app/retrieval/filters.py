"""Drop the candidates a session must not see again, and size the search so a page stays full.

On the feed path, between the FAISS search and the exploration slots: the search fetches
`fetch_size` candidates, `drop_excluded` walks them best first and stops once the page is
full, so its cost is the page size plus the excluded items it meets, not the fetch size.
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


def drop_excluded(
    rows: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    excluded: Set[int],
    count: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(n,) rows and scores -> at most `count` of them, excluded rows removed, order kept."""
    if rows.ndim != 1 or rows.shape != scores.shape:
        raise ValueError(f"rows {rows.shape} and scores {scores.shape} must be equal 1-D shapes")
    kept: list[int] = []  # positions of the rows to keep
    for position, row in enumerate(rows.tolist()):
        if len(kept) >= count:
            break
        if row not in excluded:
            kept.append(position)
    positions = np.array(kept, dtype=np.int64)
    return rows[positions], scores[positions]
