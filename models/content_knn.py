"""Content-kNN: the cold-start baseline that knows titles and nothing of behaviour.

Each item is scored by the cosine of its title vector with the session's last `window`
items, weighted 1/step back (the most recent 1, the one before 1/2, ...), the position decay
of V-SKNN (Ludewig & Jannach, UMUAI 2018) applied to content. The window's own items are
ranked last: each has cosine 1 with itself, and MicroLens sequences never repeat an item.
Every item is ranked, cold or warm alike.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from models.sessions import Sessions

F32 = npt.NDArray[np.float32]
Prediction = tuple[F32, npt.NDArray[np.int64]]  # scores (b, n_items), targets (b,)
SPARSE_DENSITY = 0.05  # below this share of non-zeros the item vectors are kept sparse


def unit_rows(content: F32) -> F32:
    """Rows scaled to length 1; a zero row (a title without words) stays zero."""
    norms = np.linalg.norm(content, axis=1, keepdims=True)
    unit: F32 = np.divide(content, norms, out=np.zeros_like(content), where=norms > 0)
    return unit


@dataclass(frozen=True, slots=True, eq=False)
class ContentKNN:
    items: F32 | sp.csr_array  # (n_items, D) unit title vectors
    window: int = 5  # recent items the query sums

    @classmethod
    def fit(cls, content: F32, window: int = 5) -> "ContentKNN":
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        unit = unit_rows(content.astype(np.float32, copy=False))
        sparse = np.count_nonzero(unit) < SPARSE_DENSITY * unit.size
        return cls(sp.csr_array(unit) if sparse else unit, window)

    def predict(self, sessions: Sessions, max_rows: int = 1024) -> Iterator[Prediction]:
        """(scores, targets) in `Sessions.prediction_points()` order, max_rows at a time."""
        session_index, positions = sessions.prediction_points()  # (n_predictions,) each
        for first in range(0, len(positions), max_rows):
            s, t = session_index[first : first + max_rows], positions[first : first + max_rows]
            yield self.score(sessions, s, t), sessions.items[sessions.offsets[s] + t]

    def score(
        self,
        sessions: Sessions,
        session_index: npt.NDArray[np.int64],
        positions: npt.NDArray[np.int64],
    ) -> F32:
        """(b, n_items) scores of the prefixes sessions.session(s)[:t]."""
        n_items, b = self.items.shape[0], len(session_index)
        ends = sessions.offsets[session_index] + positions  # (b,) one past the prefix
        # (b, n_items) sparse weights of the window's items: 1/1, 1/2, ... going back
        rows, cols, weights = [], [], []
        for back in range(self.window):
            inside = positions > back  # the prefix reaches this far back
            rows.append(np.flatnonzero(inside))
            cols.append(sessions.items[ends[inside] - 1 - back])
            weights.append(np.full(int(inside.sum()), 1.0 / (back + 1), dtype=np.float32))
        row, col = np.concatenate(rows), np.concatenate(cols)
        recent = sp.csr_array((np.concatenate(weights), (row, col)), shape=(b, n_items))
        query = recent @ self.items  # (b, D)
        query = query.toarray() if sp.issparse(query) else query
        # sparse items: (n_items, D) @ (D, b) costs one multiply per non-zero and query
        scores = np.ascontiguousarray((self.items @ query.T).T, dtype=np.float32)
        scores[row, col] = -np.inf  # the window's own items
        return scores
