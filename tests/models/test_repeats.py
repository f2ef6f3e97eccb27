"""The repeat share: recency weights of the session's own items, the mixture, and its use in
the evaluation and in a tuning trial's validation."""

import numpy as np
import pytest
import torch

from models.config import TrainConfig
from models.evaluate import gru_predictions, measure, measure_repeat_shares
from models.gru4rec import GRU4Rec
from models.metrics import conservative_ranks
from models.repeats import has_repeats, mix, recency, softmax
from models.sessions import Sessions


def test_recency_weighs_each_item_by_its_last_view() -> None:
    sessions = Sessions.from_lists([[3, 1, 3, 2], [0, 4]])
    starts = np.array([0, 4], dtype=np.int64)
    # session 0 seen up to position 2 ([3, 1, 3]); session 1 up to position 0 ([0])
    weights = recency(sessions, starts, np.array([2, 0], dtype=np.int64), n_items=5)
    np.testing.assert_allclose(weights[0], [0, 1 / 3, 0, 2 / 3, 0])  # 3: 1 step back, 1: 2
    np.testing.assert_allclose(weights[1], [1, 0, 0, 0, 0])


def test_share_zero_ranks_as_the_scores_and_a_share_lifts_seen_items() -> None:
    scores = np.array([[4.0, 3.0, 2.0, 1.0, 0.0]], dtype=np.float32)
    seen = np.array([[0, 0, 0, 1.0, 0]])  # item 3 was viewed; the model ranks it 4th
    np.testing.assert_array_equal(np.argsort(-mix(softmax(scores), seen, 0.0)[0]), [0, 1, 2, 3, 4])
    ranks = conservative_ranks(mix(softmax(scores), seen, 0.5), np.array([3], dtype=np.int64))
    assert ranks.tolist() == [1]
    with pytest.raises(ValueError, match="repeat_share"):
        mix(softmax(scores), seen, 1.0)
    with pytest.raises(ValueError, match="repeat_share"):
        TrainConfig(repeat_share=-0.1)


def test_has_repeats() -> None:
    assert has_repeats(Sessions.from_lists([[1, 2], [3, 4, 3]]))
    assert not has_repeats(Sessions.from_lists([[1, 2], [3, 4, 5]]))


def test_the_evaluation_mixes_the_share_in() -> None:
    """An untrained model ranks a re-viewed item anywhere; with a share of 0.9 it comes right
    after the items viewed since (2nd after [7, 9], 3rd after [11, 12, 13])."""
    torch.manual_seed(0)
    model = GRU4Rec(n_items=50, hidden_size=8).eval()
    sessions = Sessions.from_lists([[7, 9, 7], [11, 12, 13, 11]])

    def ranked(share: float) -> tuple[list[int], list[int]]:
        ranks, targets = [], []
        for scores, next_items in gru_predictions(model, sessions, repeat_share=share):
            ranks += conservative_ranks(scores, next_items).tolist()
            targets += next_items.tolist()
        return ranks, targets

    plain, targets = ranked(0.0)
    mixed, _ = ranked(0.9)
    assert targets == [9, 12, 7, 13, 11]  # position by position, the sessions side by side
    assert [mixed[2], mixed[4]] == [2, 3]
    assert [plain[2], plain[4]] != [2, 3]


def test_one_pass_measures_each_share_as_its_own_evaluation() -> None:
    torch.manual_seed(1)
    model = GRU4Rec(n_items=30, hidden_size=8).eval()
    sessions = Sessions.from_lists([[1, 2, 1, 3], [4, 5, 6], [7, 7, 8, 9, 8]])
    shares = (0.0, 0.2, 0.5)
    one_pass = measure_repeat_shares(model, sessions, shares)
    for share, figures in zip(shares, one_pass, strict=True):
        alone = measure(gru_predictions(model, sessions, repeat_share=share))
        assert {k: v for k, v in figures.items() if k != "seconds"} == {
            k: v for k, v in alone.items() if k != "seconds"
        }
    assert one_pass[0] != one_pass[2]
