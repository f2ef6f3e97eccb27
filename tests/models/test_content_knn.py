"""Content-kNN on hand-made title vectors whose cosines are known exactly."""

import numpy as np
import pytest

from models.content_knn import ContentKNN, unit_rows
from models.sessions import Sessions


def test_unit_rows_keeps_zero_rows() -> None:
    unit = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]])


def test_scores_are_decayed_cosines_to_the_window() -> None:
    # items 0..3 on the unit circle at 0, 90, 45 and 180 degrees (item 1 given unnormalised)
    s = np.sqrt(0.5)
    content = np.array([[1, 0], [0, 2], [s, s], [-1, 0]], dtype=np.float32)
    knn = ContentKNN.fit(content, window=2)
    sessions = Sessions.from_lists([[0, 1, 2, 3]])
    (scores, targets), *_ = knn.predict(sessions)
    np.testing.assert_array_equal(targets, [1, 2, 3])
    # prefix [0]: cosine with item 0; item 0 itself is last
    np.testing.assert_allclose(scores[0], [-np.inf, 0.0, s, -1.0], atol=1e-6)
    # prefix [0, 1]: 1 x cos(., 1) + 1/2 x cos(., 0); the window's items last
    np.testing.assert_allclose(scores[1], [-np.inf, -np.inf, s + 0.5 * s, -0.5], atol=1e-6)
    # prefix [0, 1, 2]: the window holds 2 and 1 only
    np.testing.assert_allclose(scores[2, [0, 3]], [s + 0.0, -s + 0.0], atol=1e-6)
    assert np.all(np.isneginf(scores[2, [1, 2]]))


def test_sparse_and_dense_items_score_alike() -> None:
    rng = np.random.default_rng(0)
    content = np.zeros((30, 400), dtype=np.float32)
    for row in range(30):  # 3 non-zeros of 400: below the sparse threshold
        content[row, rng.choice(400, 3, replace=False)] = rng.standard_normal(3)
    sparse = ContentKNN.fit(content, window=3)
    dense = ContentKNN(unit_rows(content), window=3)
    assert not isinstance(sparse.items, np.ndarray)
    sessions = Sessions.from_lists([rng.integers(0, 30, 6).tolist() for _ in range(5)])
    for (a, ta), (b, tb) in zip(
        sparse.predict(sessions, max_rows=4), dense.predict(sessions, max_rows=4), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-6)
        np.testing.assert_array_equal(ta, tb)


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        ContentKNN.fit(np.eye(3, dtype=np.float32), window=0)
