"""The cold blend: its states line up with gru_states, a zero weight is the plain shift, the
content term lifts only cold items, and the choice keeps warm recall above the bar."""

import numpy as np
import torch

from models.cold_blend import BlendChoice, blended_ranks, choose_blend
from models.cold_start import gru_states, shifted_ranks, state_points
from models.content_knn import ContentKNN
from models.gru4rec import GRU4Rec
from models.sessions import Sessions

N_ITEMS, H = 40, 8


def sessions_of(lengths: list[int], seed: int) -> Sessions:
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = rng.permutation(np.tile(np.arange(N_ITEMS), 4))[: offsets[-1]].astype(np.int64)
    return Sessions(items, offsets, np.ones(offsets[-1], np.float32))


def setup() -> tuple[GRU4Rec, Sessions, np.ndarray, np.ndarray, np.ndarray, ContentKNN]:
    torch.manual_seed(0)
    model = GRU4Rec(N_ITEMS, H).eval()
    sessions = sessions_of([2, 5, 3, 7, 4], seed=1)
    rows = np.concatenate(
        [model.item_embedding.weight.detach().numpy(), np.zeros((N_ITEMS, 1), np.float32)], 1
    )
    cold = np.zeros(N_ITEMS, dtype=bool)
    cold[::5] = True
    content = np.random.default_rng(2).standard_normal((N_ITEMS, 6)).astype(np.float32)
    return model, sessions, rows, cold, content, ContentKNN.fit(content, window=3)


def test_state_points_name_the_prefix_of_each_state_gru_states_returns() -> None:
    model, sessions, rows, *_ = setup()
    _, targets = gru_states(model, sessions, rows[:, :-1], max_sessions=2)
    session_index, prefix = state_points(sessions, max_sessions=2)
    assert len(session_index) == len(targets) == sessions.n_predictions
    assert np.array_equal(sessions.items[sessions.offsets[session_index] + prefix], targets)


def test_weight_zero_is_the_shift_and_the_content_term_moves_only_cold_scores() -> None:
    model, sessions, rows, cold, _, knn = setup()
    states, targets = gru_states(model, sessions, rows[:, :-1])
    shifts = [0.0, 0.7]
    ranks = blended_ranks(states, targets, rows, cold, knn, sessions, shifts, [0.0, 50.0])
    expected = shifted_ranks(states, targets, rows, cold, np.array(shifts, np.float32))
    assert np.array_equal(ranks[:, 0], expected)
    # a heavy content weight reorders cold targets; a warm target moves only past cold
    # items, as the warm items' own order is the model's
    is_cold = cold[targets]
    assert (ranks[0, 1, is_cold] != ranks[0, 0, is_cold]).any()
    moved = np.abs(ranks[0, 1, ~is_cold] - ranks[0, 0, ~is_cold])
    assert moved.max() > 0
    assert moved.max() <= cold.sum()


def test_the_choice_is_the_best_cold_recall_whose_warm_recall_clears_the_bar() -> None:
    # 3 cold targets then 3 warm; ranks per (shift, weight)
    cold_target = np.array([True, True, True, False, False, False])
    ranks = np.array(
        [
            [[50, 50, 50, 1, 1, 1], [1, 50, 50, 1, 1, 1]],  # shift 0: weights 0, 1
            [[1, 1, 50, 1, 1, 50], [1, 1, 1, 50, 50, 1]],  # shift 1
        ]
    )
    choice = choose_blend(ranks, cold_target, [0.0, 1.0], [0.0, 1.0], warm_bar=0.6)
    assert choice == BlendChoice(1.0, 0.0, 2 / 3, 2 / 3)
    nothing = choose_blend(ranks, cold_target, [0.0, 1.0], [0.0, 1.0], warm_bar=1.1)
    assert nothing == BlendChoice(0.0, 0.0, 0.0, 0.0)
