"""Exploration slots sit where the rule says, and the merged page is worked out by hand."""

import pytest

from app.bandit.slots import explore_positions, merge


@pytest.mark.parametrize(
    ("count", "share", "expected"),
    [
        (10, 0.2, [4, 9]),
        (10, 0.5, [1, 3, 5, 7, 9]),
        (10, 0.1, [9]),
        (10, 0.25, [3, 6, 9]),  # 2.5 rounds half up to 3
        (20, 0.2, [4, 9, 14, 19]),
        (3, 0.2, [2]),  # 0.6 rounds to 1
        (2, 0.1, [1]),  # 0.2 rounds to 0, but share > 0 gives at least one slot
        (10, 1.0, [1, 2, 3, 4, 5, 6, 7, 8, 9]),  # never rank 0
        (1, 0.5, []),  # the only rank is the model's
        (10, 0.0, []),
        (0, 0.2, []),
    ],
)
def test_explore_positions(count: int, share: float, expected: list[int]) -> None:
    assert explore_positions(count, share) == expected


def test_positions_are_distinct_in_range_and_never_first() -> None:
    for count in range(1, 101):
        for share in (0.05, 0.2, 0.33, 0.5, 0.9, 1.0):
            positions = explore_positions(count, share)
            assert positions == sorted(set(positions))
            assert all(1 <= p < count for p in positions)
            assert len(positions) == min(max(int(count * share + 0.5), 1), count - 1)


def test_share_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"share must lie in \[0, 1\]"):
        explore_positions(10, 1.5)


MODEL = [(10, 0.9), (11, 0.8), (12, 0.7), (13, 0.6), (14, 0.5), (15, 0.4)]


def test_explored_items_take_their_slots_and_the_model_the_rest() -> None:
    page = merge(MODEL, [(90, 0.3), (91, 0.2)], [2, 4], 6)
    assert page == [
        (10, 0.9, False),
        (11, 0.8, False),
        (90, 0.3, True),
        (12, 0.7, False),
        (91, 0.2, True),
        (13, 0.6, False),
    ]


def test_model_fills_slots_that_exploration_leaves_empty() -> None:
    page = merge(MODEL, [(90, 0.3)], [1, 3], 5)
    assert [(row, explore) for row, _, explore in page] == [
        (10, False),
        (90, True),
        (11, False),
        (12, False),
        (13, False),
    ]


def test_exploration_fills_ranks_the_model_runs_out_of() -> None:
    page = merge(MODEL[:2], [(90, 0.3), (91, 0.2), (92, 0.1)], [4], 6)
    assert [(row, explore) for row, _, explore in page] == [
        (10, False),
        (11, False),
        (90, True),
        (91, True),
        (92, True),
    ]


def test_no_item_appears_twice_on_a_page() -> None:
    # the bandit drew 12, which the model also ranks: it is served once, where it comes first
    page = merge(MODEL, [(12, 0.0), (90, 0.3)], [1, 3], 5)
    assert [(row, explore) for row, _, explore in page] == [
        (10, False),
        (12, True),
        (11, False),
        (90, True),
        (13, False),
    ]


def test_empty_inputs_give_an_empty_page() -> None:
    assert merge([], [], [4, 9], 10) == []
    assert merge(MODEL, [], [], 0) == []
