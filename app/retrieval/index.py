"""Retriever: the feed path's candidate generator over the bundle's FAISS item index.

The index holds [item embedding | item bias], so the session's hidden state with a trailing
1 is the query and each inner product is exactly the model's score; sessions without a
state get the bundle's most popular items instead. Large catalogues ship an approximate
index (IVF, HNSW), mid-size ones may ship a re-ranked 8-bit one (reranked.py): its type must
be the one the manifest records, and the search parameters the export measured (nprobe,
efSearch, k_factor_rf) are applied here, since the index file lacks them.
"""

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from faiss.contrib.factory_tools import reverse_index_factory

from app.bundle import EXACT_INDEX_TYPE, INDEX_FILE, POPULARITY_FILE, BundleMismatch, Manifest
from app.retrieval.reranked import RERANKED_TYPE, is_reranked


class Retriever:
    """One read-only index per process: concurrent searches are safe, adding items is not."""

    __slots__ = ("_hidden_size", "_index", "_n_items", "_popular")

    def __init__(self, bundle_dir: Path, manifest: Manifest, omp_threads: int = 1) -> None:
        faiss.omp_set_num_threads(omp_threads)
        index = faiss.read_index(str(bundle_dir / INDEX_FILE))
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise BundleMismatch(f"{INDEX_FILE} does not rank by inner product")
        _configure(index, manifest.index)
        if index.ntotal != manifest.n_items:
            raise BundleMismatch(
                f"{INDEX_FILE} holds {index.ntotal} items, the manifest says {manifest.n_items}"
            )
        if index.d != manifest.hidden_size + 1:
            raise BundleMismatch(
                f"{INDEX_FILE} has dimension {index.d}, but hidden size "
                f"{manifest.hidden_size} plus the bias needs {manifest.hidden_size + 1}"
            )
        popularity = np.load(bundle_dir / POPULARITY_FILE)  # (n_items,) training occurrences
        if popularity.shape != (manifest.n_items,):
            raise BundleMismatch(
                f"{POPULARITY_FILE} has shape {popularity.shape}, expected ({manifest.n_items},)"
            )
        # most popular first; ties by row, so cold-start pages are the same on every replica
        popular = np.argsort(-popularity, kind="stable").astype(np.int64)  # (n_items,)
        popular.flags.writeable = False
        self._index = index
        self._popular = popular
        self._n_items = manifest.n_items
        self._hidden_size = manifest.hidden_size

    @property
    def n_items(self) -> int:
        return self._n_items

    def search(
        self, hidden: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(H,) state -> the best min(k, n_items) items: (k',) scores, (k',) rows, best first.

        An approximate index finds most of them (the manifest's recall_at_100), and an IVF
        index may find fewer than k when its probed lists hold fewer items.
        """
        if hidden.shape != (self._hidden_size,):
            raise ValueError(f"hidden must have shape ({self._hidden_size},), got {hidden.shape}")
        k = min(k, self._n_items)
        if k <= 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        query = np.ones((1, self._hidden_size + 1), dtype=np.float32)  # trailing 1: the bias
        query[0, :-1] = hidden
        scores, rows = self._index.search(query, k)  # (1, k) each
        found = rows[0] >= 0  # FAISS pads with -1 when it finds fewer than k
        return scores[0][found], rows[0][found]

    def popular(self, k: int) -> npt.NDArray[np.int64]:
        """(min(k, n_items),) rows, most popular first: the page of a session with no state."""
        return self._popular[: max(k, 0)]


def _configure(index: faiss.Index, recorded: dict[str, Any]) -> None:
    """Check the index is the recorded type, then apply the recorded search parameters."""
    kind = recorded.get("type", EXACT_INDEX_TYPE)  # recording none predates approximate ones
    try:
        actual = RERANKED_TYPE if is_reranked(index) else reverse_index_factory(index)  # type: ignore[no-untyped-call]
    except (NotImplementedError, KeyError):
        raise BundleMismatch(f"{INDEX_FILE} is an index type nextswipe does not know") from None
    if actual != ("Flat" if kind == EXACT_INDEX_TYPE else kind):
        raise BundleMismatch(f"{INDEX_FILE} is a {actual} index, the manifest says {kind}")
    space = faiss.ParameterSpace()
    for name, value in recorded.get("params", {}).items():
        try:
            space.set_index_parameter(index, name, float(value))
        except RuntimeError:
            raise BundleMismatch(f"{INDEX_FILE} ({actual}) has no parameter {name}") from None
