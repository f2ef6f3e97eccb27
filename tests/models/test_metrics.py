import numpy as np
import pytest

from models.metrics import RankingMetrics, conservative_ranks


def test_ranks_count_ties_against_the_model() -> None:
    scores = np.array(
        [
            [0.1, 0.9, 0.5, 0.3],  # target 1 is strictly best
            [0.5, 0.5, 0.5, 0.5],  # target tied with 3 others
            [0.2, 0.7, 0.7, 0.1],  # target 2 tied with item 1 for the top
            [0.4, 0.3, 0.2, 0.1],  # target 3 is worst
        ],
        dtype=np.float32,
    )
    targets = np.array([1, 0, 2, 3], dtype=np.int64)
    ranks = conservative_ranks(scores, targets)
    assert ranks.dtype == np.int64
    np.testing.assert_array_equal(ranks, [1, 4, 2, 4])


def test_nan_never_helps_the_model() -> None:
    nan = np.nan
    scores = np.array(
        [
            [nan, 0.9, 0.5, 0.3, 0.2],  # target 1: the NaN item counts as scoring higher
            [0.1, nan, 0.5, 0.3, 0.2],  # the target itself is NaN: worst rank
            [nan, nan, nan, nan, nan],  # all NaN: worst rank
        ],
        dtype=np.float32,
    )
    targets = np.array([1, 1, 0], dtype=np.int64)
    np.testing.assert_array_equal(conservative_ranks(scores, targets), [2, 5, 5])


def test_ranks_check_shapes() -> None:
    scores = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="expected"):
        conservative_ranks(scores, np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="expected"):
        conservative_ranks(scores[0], np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="lie in"):
        conservative_ranks(scores, np.array([0, 3], dtype=np.int64))


def test_cutoff_boundary_and_hand_computed_mrr() -> None:
    metrics = RankingMetrics(cutoffs=(20, 10))
    metrics.add(np.array([1, 4, 20, 21], dtype=np.int64))
    metrics.add(np.array([10, 11], dtype=np.int64))
    assert metrics.n_events == 6
    result = metrics.result()
    assert list(result) == ["recall@20", "mrr@20", "recall@10", "mrr@10"]
    # @20: ranks 1, 4, 20, 10, 11 count; 21 does not
    assert result["recall@20"] == pytest.approx(5 / 6)
    assert result["mrr@20"] == pytest.approx((1 + 1 / 4 + 1 / 20 + 1 / 10 + 1 / 11) / 6)
    # @10: ranks 1, 4, 10 count; 11 and 20 do not
    assert result["recall@10"] == pytest.approx(3 / 6)
    assert result["mrr@10"] == pytest.approx((1 + 1 / 4 + 1 / 10) / 6)


def test_metrics_from_scores_with_ties() -> None:
    # 25 items; the target (item 0) scores 1.0 and n_above items score higher, 3 others tie
    def row(n_above: int) -> list[float]:
        return [1.0] + [2.0] * n_above + [1.0] * 3 + [0.0] * (21 - n_above)

    scores = np.array([row(0), row(16), row(17)], dtype=np.float32)
    ranks = conservative_ranks(scores, np.zeros(3, dtype=np.int64))
    np.testing.assert_array_equal(ranks, [4, 20, 21])
    metrics = RankingMetrics()
    metrics.add(ranks)
    result = metrics.result()
    assert result["recall@20"] == pytest.approx(2 / 3)
    assert result["mrr@20"] == pytest.approx((1 / 4 + 1 / 20) / 3)
    assert result["recall@10"] == pytest.approx(1 / 3)
    assert result["mrr@10"] == pytest.approx((1 / 4) / 3)


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="positive"):
        RankingMetrics(cutoffs=(0, 20))
    metrics = RankingMetrics()
    with pytest.raises(ValueError, match="no events"):
        metrics.result()
    with pytest.raises(ValueError, match="start at 1"):
        metrics.add(np.array([0, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="expected"):
        metrics.add(np.ones((2, 2), dtype=np.int64))
