"""The check of a retried cursor: the same page, scores compared at the stored precision,
except where a degraded page (stored nowhere) is involved."""

import copy
from typing import Any

from loadtest.session import ServedPage, same_page

ITEMS: list[Any] = [
    {"item_id": "7", "score": 3.25, "source": "model", "rank": 0},
    {"item_id": "94", "score": 0.6333333333333333, "source": "explore", "rank": 1},
]
SERVED = ServedPage("cursor-1", ITEMS)


def replay(items: object, degraded: bool = False) -> dict[str, Any]:
    return {"items": items, "degraded": degraded}


def test_the_same_page_is_the_same() -> None:
    assert same_page(SERVED, replay(copy.deepcopy(ITEMS)))


def test_a_score_off_in_the_last_digits_is_another_page() -> None:
    replayed = copy.deepcopy(ITEMS)
    replayed[1]["score"] = 0.6333333253860474  # what float64 -> float32 rounding would send
    assert not same_page(SERVED, replay(replayed))


def test_a_different_score_item_order_or_source_is_another_page() -> None:
    changed = [copy.deepcopy(ITEMS) for _ in range(6)]
    changed[0][1]["score"] = 0.64
    changed[1].reverse()
    changed[2][0]["source"] = "explore"
    changed[3][0]["item_id"] = "8"
    changed[4].pop()
    del changed[5][0]["rank"]
    for replayed in changed:
        assert not same_page(SERVED, replay(replayed))


def test_a_replay_that_is_not_a_list_of_items_is_another_page() -> None:
    assert not same_page(SERVED, replay(None))
    assert not same_page(SERVED, replay(["7", "94"]))
    assert not same_page(SERVED, {})


def test_a_degraded_page_on_either_side_may_differ() -> None:
    other = [dict(ITEMS[1], rank=0)]
    assert same_page(ServedPage("cursor-1", ITEMS, degraded=True), replay(other))
    assert same_page(SERVED, replay(other, degraded=True))


def test_a_replay_by_another_model_version_may_differ() -> None:
    served = ServedPage("cursor-1", ITEMS, model_version="v1")
    other = [dict(ITEMS[1], rank=0)]
    assert same_page(served, {"items": other, "model_version": "v2"})
    assert not same_page(served, {"items": other, "model_version": "v1"})
