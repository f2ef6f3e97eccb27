"""UploadIndex: exact search over the uploaded items' vectors, beside the bundle's index.

The bundle's FAISS index is read-only (and may be approximate), so uploads the bundle lacks are
searched here: their projected [embedding | bias] rows, scanned exactly by FAISS's brute-force
k-NN with the same query ([hidden | 1]), so that both indexes give the model's score and
merge.py can rank their results together. Rebuilt with each catalogue snapshot, never changed.
Measured for one query, top 100, one thread: 10 us for 1,000 uploads of 33 floats, 0.1 ms for
10,000 of 65, 0.75 ms for 10,000 of 513, 14 ms for 100,000 of 513; numpy's matrix-vector
product took 2 to 100 times as long up to 10,000 uploads (BLAS threads waking for one query).
"""

import faiss
import numpy as np
import numpy.typing as npt


class UploadIndex:
    __slots__ = ("_first_row", "_vectors")

    def __init__(self, vectors: npt.NDArray[np.float32], first_row: int) -> None:
        if vectors.ndim != 2 or vectors.shape[1] < 2:
            raise ValueError(f"vectors must be (n, H + 1) with H >= 1, got {vectors.shape}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        vectors.flags.writeable = False
        self._vectors = vectors  # (n_uploads, H + 1), row first_row + i is vectors[i]
        self._first_row = first_row

    def __len__(self) -> int:
        return int(self._vectors.shape[0])

    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        """(n_uploads, H + 1), read-only."""
        return self._vectors

    def search(
        self, hidden: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(H,) state -> the best min(k, n) uploads: (k',) scores, (k',) rows, best first."""
        if hidden.shape != (self._vectors.shape[1] - 1,):
            raise ValueError(
                f"hidden must have shape ({self._vectors.shape[1] - 1},), got {hidden.shape}"
            )
        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        query = np.ones((1, self._vectors.shape[1]), dtype=np.float32)  # trailing 1: the bias
        query[0, :-1] = hidden
        scores, found = faiss.knn(query, self._vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        return scores[0].astype(np.float32), found[0].astype(np.int64) + self._first_row
