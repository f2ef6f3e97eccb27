"""Retriever: the feed path's candidate generator over the bundle's FAISS item index.

The index holds [item embedding | item bias], so the session's hidden state with a trailing
1 is the query and each inner product is exactly the model's score; sessions without a
state get the bundle's most popular items instead. Large catalogues ship an approximate
index (IVF, HNSW), mid-size ones may ship a re-ranked 8-bit one (reranked.py): its type must
be the one the manifest records, and the search parameters the export measured (nprobe,
efSearch, k_factor_rf) are applied here, since the index file lacks them.
"""

from pathlib import Path
from typing import Any, cast

import faiss
import numpy as np
import numpy.typing as npt
from faiss.contrib.factory_tools import reverse_index_factory

from app.bundle import EXACT_INDEX_TYPE, INDEX_FILE, POPULARITY_FILE, BundleMismatch, Manifest
from app.retrieval.reranked import RERANKED_TYPE, is_reranked

# MicroLens (19,100 x 513), one thread, us per query of a top 100, from
# `python -m loadtest.batch_costs` on a slow day: exact scan about 5,000 at any batch size;
# BLAS 13,000 alone, 4,500 in threes, 3,300 in fours, 1,800 in eights, 1,100 in sixteens; the
# 8-bit re-ranked scan about 2,500 at any batch size.
EXACT_BLAS_FROM = 3
RERANKED_BLAS_FROM = 8


class Retriever:
    """One read-only index per process: concurrent searches are safe, adding items is not."""

    __slots__ = ("_exact", "_exact_from", "_hidden_size", "_index", "_n_items", "_popular")

    def __init__(self, bundle_dir: Path, manifest: Manifest, omp_threads: int = 1) -> None:
        faiss.omp_set_num_threads(omp_threads)
        index = faiss.read_index(str(bundle_dir / INDEX_FILE), _read_flags(manifest.index))
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
        # a batch of at least _exact_from queries is searched exactly by one matrix product
        self._exact, self._exact_from = _exact_batch_index(index)
        self._popular = popular
        self._n_items = manifest.n_items
        self._hidden_size = manifest.hidden_size

    @property
    def n_items(self) -> int:
        return self._n_items

    @property
    def hidden_size(self) -> int:
        return self._hidden_size

    @property
    def index(self) -> faiss.Index:
        """The bundle's index, as configured; read-only."""
        return self._index

    @property
    def batch_index(self) -> faiss.Index | None:
        """The exact index a batch large enough is searched in instead (_exact_batch_index)."""
        return self._exact

    def search(
        self, hidden: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(H,) state -> the best min(k, n_items) items: (k',) scores, (k',) rows, best first.

        An approximate index finds most of them (the manifest's recall_at_100), and an IVF
        index may find fewer than k when its probed lists hold fewer items.
        """
        if hidden.shape != (self._hidden_size,):
            raise ValueError(f"hidden must have shape ({self._hidden_size},), got {hidden.shape}")
        return self.search_many(hidden.reshape(1, -1), k)[0]

    def search_many(
        self, hidden: npt.NDArray[np.float32], k: int
    ) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]:
        """(b, H) states -> `search` of each, in one FAISS search."""
        if hidden.ndim != 2 or hidden.shape[1] != self._hidden_size:
            raise ValueError(f"hidden must have shape (b, {self._hidden_size}), got {hidden.shape}")
        k = min(k, self._n_items)
        if k <= 0:
            empty = np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
            return [empty] * hidden.shape[0]
        queries = np.ones((hidden.shape[0], self._hidden_size + 1), dtype=np.float32)
        queries[:, :-1] = hidden  # the trailing 1 meets the bias
        index = self._index
        if self._exact is not None and hidden.shape[0] >= self._exact_from:
            index = self._exact
        scores, rows = index.search(queries, k)  # (b, k) each
        found = rows >= 0  # FAISS pads with -1 when it finds fewer than k
        return [(scores[q][found[q]], rows[q][found[q]]) for q in range(hidden.shape[0])]

    def popular(self, k: int) -> npt.NDArray[np.int64]:
        """(min(k, n_items),) rows, most popular first: the page of a session with no state."""
        return self._popular[: max(k, 0)]


def _exact_batch_index(index: faiss.Index) -> tuple[faiss.Index | None, int]:
    """The exact index that a batch searches faster than `index` does, and from what size.

    An exact flat index scans for a query or two, but for more FAISS computes the scores of
    all of them as one BLAS matrix product, reading the vectors once: it does so when queries
    x dimension reach its threshold (FAISS 1.15: default 128,000, some 250 MicroLens queries;
    set here to EXACT_BLAS_FROM queries; faiss.knn's single queries of the uploads stay
    scans). The re-ranked index keeps the float vectors it re-ranks with in a flat index: at
    RERANKED_BLAS_FROM queries that product beats its 8-bit scans, and answers exactly.
    """
    faiss.cvar.distance_compute_blas_threshold = EXACT_BLAS_FROM * index.d  # process-wide
    if isinstance(faiss.downcast_index(index), faiss.IndexFlat):
        return index, EXACT_BLAS_FROM
    if is_reranked(index):
        refined = cast(faiss.IndexRefineFlat, faiss.downcast_index(index))
        return faiss.downcast_index(refined.refine_index), RERANKED_BLAS_FROM
    return None, 0


def _read_flags(recorded: dict[str, Any]) -> int:
    """Memory-mapped reading: the codes (IVF lists; flat, 8-bit and graph indexes' codes) stay
    pages of the index file, which every worker process on the host shares through the page
    cache instead of holding a copy of its own (the 1M bundle's index is 525 MB). Bundles are
    never rewritten. IVF lists and flat codes take different flags; FAISS refuses both at once.
    """
    ivf = str(recorded.get("type", EXACT_INDEX_TYPE)).startswith("IVF")
    return (faiss.IO_FLAG_MMAP if ivf else faiss.IO_FLAG_MMAP_IFC) | faiss.IO_FLAG_READ_ONLY


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
