"""Cold items against exact truth: splicing hand-written sessions, stepping with skips against
step-by-step GRU calls, and every ranking against conservative_ranks on the full scores."""

import numpy as np
import pytest
import torch

from models.cold_start import (
    choose_cold,
    gru_states,
    rank_rows,
    shifted_ranks,
    splice,
    split_metrics,
)
from models.gru4rec import GRU4Rec
from models.metrics import conservative_ranks
from models.sessions import Sessions


def test_choose_cold_is_a_seeded_fraction() -> None:
    cold = choose_cold(200, 0.1, seed=3)
    assert cold.sum() == 20
    np.testing.assert_array_equal(cold, choose_cold(200, 0.1, seed=3))
    assert not np.array_equal(cold, choose_cold(200, 0.1, seed=4))
    assert choose_cold(5, 0.01, seed=0).sum() == 1  # at least one
    with pytest.raises(ValueError, match="fraction"):
        choose_cold(10, 1.0, seed=0)


def test_splice_cuts_events_and_short_sessions() -> None:
    sessions = Sessions.from_lists(
        [[0, 1, 2], [1, 3], [4, 1, 1, 5], [1]], [[1, 2, 3], [4, 5], [6, 7, 8, 9], [1]]
    )
    drop = np.array([False, True, False, False, False, False])
    spliced = splice(sessions, drop, min_length=2)
    assert [spliced.session(s).tolist() for s in range(spliced.n_sessions)] == [[0, 2], [4, 5]]
    np.testing.assert_array_equal(spliced.weights, [1, 3, 6, 9])
    kept_single = splice(sessions, drop, min_length=1)
    assert [kept_single.session(s).tolist() for s in range(kept_single.n_sessions)] == [
        [0, 2],
        [3],
        [4, 5],
    ]


def small_model() -> GRU4Rec:
    torch.manual_seed(0)
    return GRU4Rec(n_items=6, hidden_size=4).eval()


def test_gru_states_match_step_by_step_with_skips() -> None:
    model = small_model()
    inputs = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    sessions = Sessions.from_lists([[0, 3, 1, 2], [3, 4], [5]])
    skip = np.array([False, False, False, True, False, False])  # item 3 is no input
    states, targets = gru_states(model, sessions, inputs, skip, max_sessions=2)
    expected_states, expected_targets = [], []
    with torch.no_grad():
        for s in range(sessions.n_sessions):
            hidden = torch.zeros(1, 4)
            items = sessions.session(s).tolist()
            for item, target in zip(items[:-1], items[1:], strict=True):
                if item != 3:
                    vector = torch.from_numpy(inputs[[item]])
                    hidden = model.step_vector(vector, torch.ones(1), hidden)
                expected_states.append(hidden.numpy()[0])
                expected_targets.append(target)
    # gru_states orders by position within a chunk of sessions; match as sets of pairs
    order = np.lexsort(np.vstack([targets, states.T]))
    expected = np.array(expected_states)
    expected_order = np.lexsort(np.vstack([expected_targets, expected.T]))
    np.testing.assert_allclose(states[order], expected[expected_order], atol=1e-6)
    np.testing.assert_array_equal(targets[order], np.array(expected_targets)[expected_order])
    # session [3, 4] starts on a skipped item: its state stays zero
    assert any(np.all(state == 0.0) and t == 4 for state, t in zip(states, targets, strict=True))


def test_rank_rows_equals_conservative_ranks() -> None:
    rng = np.random.default_rng(2)
    states = rng.integers(-2, 3, (40, 3)).astype(np.float32)  # integers: many exact ties
    rows = rng.integers(-2, 3, (9, 4)).astype(np.float32)
    targets = rng.integers(0, 9, 40)
    scores = states @ rows[:, :-1].T + rows[:, -1]
    np.testing.assert_array_equal(
        rank_rows(states, targets, rows, chunk=7), conservative_ranks(scores, targets)
    )
    unreachable = np.zeros(9, dtype=bool)
    unreachable[[2, 5]] = True
    ranks = rank_rows(states, targets, rows, unreachable)
    masked = scores.copy()
    masked[:, unreachable] = -np.inf
    np.testing.assert_array_equal(ranks, conservative_ranks(masked, targets))
    assert np.all(ranks[unreachable[targets]] == 9)  # an unreachable target is a miss


def test_shifted_ranks_equal_ranks_of_shifted_scores() -> None:
    rng = np.random.default_rng(3)
    states = rng.integers(-2, 3, (50, 3)).astype(np.float32)
    rows = rng.integers(-2, 3, (12, 4)).astype(np.float32)
    targets = rng.integers(0, 12, 50)
    cold = np.zeros(12, dtype=bool)
    cold[[0, 4, 7]] = True
    shifts = np.array([-2.0, 0.0, 1.0, 3.0], dtype=np.float32)  # integers: ties on every side
    ranks = shifted_ranks(states, targets, rows, cold, shifts, chunk=16)
    for shift, shift_ranks in zip(shifts, ranks, strict=True):
        scores = states @ rows[:, :-1].T + rows[:, -1]
        scores[:, cold] += shift
        np.testing.assert_array_equal(shift_ranks, conservative_ranks(scores, targets))


def test_split_metrics_counts_each_part() -> None:
    ranks = np.array([1, 30, 2, 4], dtype=np.int64)
    cold_target = np.array([True, True, False, False])
    metrics = split_metrics(ranks, cold_target)
    assert metrics["cold"] == {"recall@20": 0.5, "mrr@20": 0.5, "events": 2.0}
    assert metrics["warm"] == {"recall@20": 1.0, "mrr@20": 0.375, "events": 2.0}
    assert metrics["all"]["recall@20"] == 0.75
    assert metrics["all"]["events"] == 4.0
    none_cold = split_metrics(ranks, np.zeros(4, dtype=bool))
    assert none_cold["cold"] == {"recall@20": 0.0, "mrr@20": 0.0, "events": 0.0}
