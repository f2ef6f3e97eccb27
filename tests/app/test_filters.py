"""Dropping seen and served candidates keeps the model's order, and over-fetch fills the page."""

from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from app.bundle import INDEX_FILE, POPULARITY_FILE, Manifest, read_manifest
from app.retrieval.filters import drop_excluded, fetch_size
from app.retrieval.index import Retriever
from tests.conftest import TinyBundle


def test_excluded_rows_are_dropped_and_order_kept() -> None:
    rows = np.array([5, 3, 9, 1, 7, 4], dtype=np.int64)
    scores = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0], dtype=np.float32)
    kept_rows, kept_scores = drop_excluded(rows, scores, {3, 7, 100}, 10)
    assert kept_rows.tolist() == [5, 9, 1, 4]
    assert kept_scores.tolist() == [6.0, 4.0, 3.0, 1.0]


def test_at_most_count_are_kept() -> None:
    rows = np.array([5, 3, 9, 1, 7], dtype=np.int64)
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0], dtype=np.float32)
    assert drop_excluded(rows, scores, {5}, 2)[0].tolist() == [3, 9]
    assert drop_excluded(rows, scores, set(), 3)[0].tolist() == [5, 3, 9]
    assert drop_excluded(rows, scores, set(), 0)[0].tolist() == []


def test_the_walk_stops_once_the_page_is_full() -> None:
    rows = np.arange(100_000, dtype=np.int64)
    scores = -np.arange(100_000, dtype=np.float32)
    kept_rows, kept_scores = drop_excluded(rows, scores, set(range(0, 100_000, 2)), 3)
    assert kept_rows.tolist() == [1, 3, 5]
    assert kept_scores.tolist() == [-1.0, -3.0, -5.0]
    assert kept_rows.dtype == np.int64
    assert kept_scores.dtype == np.float32


def test_rows_and_scores_of_different_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        drop_excluded(np.arange(3, dtype=np.int64), np.zeros(2, dtype=np.float32), set(), 3)


@pytest.mark.parametrize(
    ("count", "n_excluded", "n_items", "expected"),
    [(10, 0, 300, 10), (10, 35, 300, 45), (10, 1000, 300, 300), (100, 1000, 19000, 1100)],
)
def test_fetch_size_covers_every_excluded_item(
    count: int, n_excluded: int, n_items: int, expected: int
) -> None:
    assert fetch_size(count, n_excluded, n_items) == expected


def page(
    retriever: Retriever, hidden: npt.NDArray[np.float32], excluded: set[int], count: int
) -> npt.NDArray[np.int64]:
    """The feed path's retrieval: over-fetch, search, drop."""
    k = fetch_size(count, len(excluded), retriever.n_items)
    scores, rows = retriever.search(hidden, k)
    return drop_excluded(rows, scores, excluded, count)[0]


def exact_page(
    vectors: npt.NDArray[np.float32],
    hidden: npt.NDArray[np.float32],
    excluded: set[int],
    count: int,
) -> list[int]:
    scores = vectors[:, :-1].astype(np.float64) @ hidden + vectors[:, -1]  # (n_items,)
    ranked = np.argsort(-scores, kind="stable").tolist()
    return [row for row in ranked if row not in excluded][:count]


def tiny_vectors(tiny_bundle: TinyBundle) -> npt.NDArray[np.float32]:
    index = faiss.read_index(str(tiny_bundle.path / INDEX_FILE))
    vectors: npt.NDArray[np.float32] = index.reconstruct_n(0, index.ntotal)  # (n_items, H + 1)
    return vectors


def test_page_stays_full_when_most_of_the_tiny_catalogue_is_excluded(
    tiny_bundle: TinyBundle,
) -> None:
    retriever = Retriever(tiny_bundle.path, read_manifest(tiny_bundle.path))
    vectors = tiny_vectors(tiny_bundle)
    rng = np.random.default_rng(3)
    hidden = rng.standard_normal(32).astype(np.float32)
    ranked = exact_page(vectors, hidden, set(), 300)
    # worst case: the model's 180 favourites (60%) are all seen or served, plus 40 others
    excluded = set(ranked[:180]) | set(rng.choice(ranked[180:], 40, replace=False).tolist())
    rows = page(retriever, hidden, excluded, 10)
    assert rows.tolist() == exact_page(vectors, hidden, excluded, 10)
    assert len(rows) == 10
    assert not excluded & set(rows.tolist())
    # 290 of 300 gone: the last 10 fill the page; 295 gone: only 5 are left to serve
    assert len(page(retriever, hidden, set(ranked[:290]), 10)) == 10
    assert page(retriever, hidden, set(ranked[:295]), 10).tolist() == ranked[295:]


def test_session_with_a_thousand_excluded_items_gets_a_full_page(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n_items, hidden_size = 5000, 64
    vectors = rng.standard_normal((n_items, hidden_size + 1)).astype(np.float32)
    index = faiss.IndexFlatIP(hidden_size + 1)
    index.add(vectors)
    faiss.write_index(index, str(tmp_path / INDEX_FILE))
    np.save(tmp_path / POPULARITY_FILE, rng.integers(0, 100, n_items))
    manifest = Manifest(
        version="synthetic",
        created_at="2025-01-01T00:00:00+00:00",
        hidden_size=hidden_size,
        n_items=n_items,
        n_clusters=1,
        index={},
        model={},
        dataset={},
        metrics={},
        files={},
    )
    retriever = Retriever(tmp_path, manifest)
    for trial in range(3):
        hidden = rng.standard_normal(hidden_size).astype(np.float32)
        ranked = exact_page(vectors, hidden, set(), 1000)
        # the top 1,000 themselves (worst case), then 1,000 random ones
        excluded = set(ranked) if trial == 0 else set(rng.choice(n_items, 1000, False).tolist())
        rows = page(retriever, hidden, excluded, 100)
        assert len(rows) == 100
        assert rows.tolist() == exact_page(vectors, hidden, excluded, 100)
