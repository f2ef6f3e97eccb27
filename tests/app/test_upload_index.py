"""The uploads' side index against exact brute force, and its merge with the bundle's results."""

import numpy as np
import pytest

from app.retrieval.merge import merge_by_score
from app.retrieval.uploads import UploadIndex


def test_search_is_exact_top_k_with_rows_after_the_bundle() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 17)).astype(np.float32)
    index = UploadIndex(vectors, first_row=1000)
    hidden = rng.normal(size=16).astype(np.float32)
    exact = vectors[:, :-1] @ hidden + vectors[:, -1]
    for k in (1, 10, 499, 500, 800):
        scores, rows = index.search(hidden, k)
        expected = np.argsort(-exact, kind="stable")[: min(k, 500)]
        assert rows.tolist() == (expected + 1000).tolist()
        np.testing.assert_allclose(scores, exact[expected], rtol=1e-5)
    assert index.search(hidden, 0)[1].size == 0
    with pytest.raises(ValueError, match="shape"):
        index.search(np.zeros(3, dtype=np.float32), 5)


def test_an_empty_index_finds_nothing() -> None:
    index = UploadIndex(np.zeros((0, 9), dtype=np.float32), first_row=7)
    assert len(index) == 0
    assert index.search(np.zeros(8, dtype=np.float32), 10)[1].size == 0


def test_merge_ranks_both_by_score_bundle_first_on_ties() -> None:
    bundle = (np.array([5.0, 3.0, 1.0], np.float32), np.array([10, 11, 12], np.int64))
    uploads = (np.array([4.0, 3.0], np.float32), np.array([300, 301], np.int64))
    scores, rows = merge_by_score(bundle, uploads, 4)
    assert rows.tolist() == [10, 300, 11, 301]
    assert scores.tolist() == [5.0, 4.0, 3.0, 3.0]
    assert merge_by_score(bundle, uploads, 10)[1].tolist() == [10, 300, 11, 301, 12]
