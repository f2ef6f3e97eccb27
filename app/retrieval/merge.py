"""Merge the bundle index's candidates with the uploads' by score, on the feed path.

Both searches score [hidden | 1] against [embedding | bias], so their scores compare directly;
the merged list is what the filters then walk, best first.
"""

import numpy as np
import numpy.typing as npt

Candidates = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]  # (n,) scores, (n,) rows


def merge_by_score(first: Candidates, second: Candidates, k: int) -> Candidates:
    """The best k of both, best first; on equal scores `first`'s candidates come first."""
    for scores, rows in (first, second):
        if scores.ndim != 1 or scores.shape != rows.shape:
            raise ValueError(f"scores {scores.shape} and rows {rows.shape} must be equal 1-D")
    scores = np.concatenate([first[0], second[0]]).astype(np.float32)
    rows = np.concatenate([first[1], second[1]]).astype(np.int64)
    best = np.argsort(-scores, kind="stable")[: max(k, 0)]
    return scores[best], rows[best]
