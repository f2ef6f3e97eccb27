"""Session-parallel batches, step by step, against sequences written out by hand."""

from dataclasses import dataclass

import numpy as np

from models.batches import Batch, session_parallel_batches
from models.sessions import Sessions

# session 0: rows 0 1 2 (events 0-2), session 1: rows 3 4 (events 3-4),
# session 2: row 5 (event 5, too short: skipped), session 3: rows 6 7 8 9 (events 6-9)
SESSIONS = Sessions.from_lists(
    [[0, 1, 2], [3, 4], [5], [6, 7, 8, 9]],
    [[0.5, 0.25, 1.0], [0.125, 0.75], [0.0625], [1.0, 0.375, 0.875, 0.625]],
)


@dataclass(frozen=True)
class Step:
    inputs: list[int]
    targets: list[int]
    weights: list[float]
    carry: list[int]
    reset: list[bool]


def as_steps(batches: list[Batch]) -> list[Step]:
    for b in batches:
        assert b.inputs.dtype == np.int64
        assert b.targets.dtype == np.int64
        assert b.weights.dtype == np.float32
        assert b.carry.dtype == np.int64
        assert b.reset.dtype == np.bool_
    return [
        Step(
            b.inputs.tolist(),
            b.targets.tolist(),
            b.weights.tolist(),
            b.carry.tolist(),
            b.reset.tolist(),
        )
        for b in batches
    ]


def test_stored_order_refills_a_row_then_shrinks() -> None:
    steps = as_steps(list(session_parallel_batches(SESSIONS, batch_size=2)))
    assert steps == [
        # rows 0 and 1 start sessions 0 and 1
        Step([0, 3], [1, 4], [0.5, 0.125], carry=[0, 1], reset=[True, True]),
        # session 1 ended: session 3 (session 2 is skipped) takes row 1 with a fresh state
        Step([1, 6], [2, 7], [0.25, 1.0], carry=[0, 1], reset=[False, True]),
        # session 0 ended and nothing is left: row 0 is dropped, old row 1 is the new row 0
        Step([7], [8], [0.375], carry=[1], reset=[False]),
        Step([8], [9], [0.875], carry=[0], reset=[False]),
    ]


def test_custom_order() -> None:
    order = np.array([3, 2, 0, 1], dtype=np.int64)  # session 2 is still skipped
    steps = as_steps(list(session_parallel_batches(SESSIONS, batch_size=2, order=order)))
    assert steps == [
        Step([6, 0], [7, 1], [1.0, 0.5], carry=[0, 1], reset=[True, True]),
        Step([7, 1], [8, 2], [0.375, 0.25], carry=[0, 1], reset=[False, False]),
        # session 0 ended on row 1: session 1 takes it over
        Step([8, 3], [9, 4], [0.875, 0.125], carry=[0, 1], reset=[False, True]),
    ]


def test_custom_order_refills_the_first_row() -> None:
    order = np.array([1, 3, 0], dtype=np.int64)
    steps = as_steps(list(session_parallel_batches(SESSIONS, batch_size=2, order=order)))
    assert steps == [
        Step([3, 6], [4, 7], [0.125, 1.0], carry=[0, 1], reset=[True, True]),
        # session 1 ended on row 0: session 0 takes it
        Step([0, 7], [1, 8], [0.5, 0.375], carry=[0, 1], reset=[True, False]),
        Step([1, 8], [2, 9], [0.25, 0.875], carry=[0, 1], reset=[False, False]),
        # both ended, nothing left: the batch is empty and the iteration stops
    ]


def test_shrink_keeps_the_first_row_and_drops_the_second() -> None:
    sessions = Sessions.from_lists([[0, 1, 2, 3], [4, 5]])
    steps = as_steps(list(session_parallel_batches(sessions, batch_size=2)))
    assert steps == [
        Step([0, 4], [1, 5], [1.0, 1.0], carry=[0, 1], reset=[True, True]),
        Step([1], [2], [1.0], carry=[0], reset=[False]),
        Step([2], [3], [1.0], carry=[0], reset=[False]),
    ]


def test_batch_larger_than_the_sessions_and_empty_input() -> None:
    steps = as_steps(list(session_parallel_batches(SESSIONS, batch_size=8)))
    assert steps[0] == Step(
        [0, 3, 6], [1, 4, 7], [0.5, 0.125, 1.0], carry=[0, 1, 2], reset=[True, True, True]
    )
    assert steps[1] == Step([1, 7], [2, 8], [0.25, 0.375], carry=[0, 2], reset=[False, False])
    assert steps[2] == Step([8], [9], [0.875], carry=[1], reset=[False])
    assert len(steps) == 3
    only_short = Sessions.from_lists([[1], [2]])
    assert list(session_parallel_batches(only_short, batch_size=4)) == []


def test_every_event_but_the_last_is_an_input_once() -> None:
    rng = np.random.default_rng(0)
    lists = [rng.integers(0, 50, size=int(n)).tolist() for n in rng.integers(1, 9, size=40)]
    sessions = Sessions.from_lists(lists)
    order = rng.permutation(sessions.n_sessions)
    pairs: list[tuple[int, int]] = []
    for batch in session_parallel_batches(sessions, batch_size=5, order=order):
        pairs += zip(batch.inputs.tolist(), batch.targets.tolist(), strict=True)
    expected = [(s[t], s[t + 1]) for s in lists for t in range(len(s) - 1)]
    assert len(pairs) == sessions.n_predictions
    assert sorted(pairs) == sorted(expected)


def test_each_row_names_the_session_it_follows() -> None:
    batches = list(session_parallel_batches(SESSIONS, batch_size=2))
    assert [b.session.tolist() for b in batches] == [[0, 1], [0, 3], [3], [3]]
    for b in batches:  # the session's own events, so that a row can start from its state
        for row, s in enumerate(b.session.tolist()):
            start, end = SESSIONS.offsets[s], SESSIONS.offsets[s + 1]
            assert b.inputs[row] in SESSIONS.items[start:end]
