"""The check of a retried cursor: the same page, scores compared at the stored precision."""

import copy
from typing import Any

from loadtest.session import same_page

PAGE: list[Any] = [
    {"item_id": "7", "score": 3.25, "source": "model", "rank": 0},
    {"item_id": "94", "score": 0.6333333333333333, "source": "explore", "rank": 1},
]


def test_the_same_page_is_the_same() -> None:
    assert same_page(PAGE, copy.deepcopy(PAGE))


def test_a_score_off_in_the_last_digits_is_another_page() -> None:
    replayed = copy.deepcopy(PAGE)
    replayed[1]["score"] = 0.6333333253860474  # what float64 -> float32 rounding would send
    assert not same_page(PAGE, replayed)


def test_a_different_score_item_order_or_source_is_another_page() -> None:
    changed = [copy.deepcopy(PAGE) for _ in range(6)]
    changed[0][1]["score"] = 0.64
    changed[1].reverse()
    changed[2][0]["source"] = "explore"
    changed[3][0]["item_id"] = "8"
    changed[4].pop()
    del changed[5][0]["rank"]
    for replayed in changed:
        assert not same_page(PAGE, replayed)


def test_a_replay_that_is_not_a_list_of_items_is_another_page() -> None:
    assert not same_page(PAGE, None)
    assert not same_page(PAGE, ["7", "94"])
