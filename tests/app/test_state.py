"""SessionState's invariants: what a swipe and a page change, and the per-session caps."""

import numpy as np

from app.session.state import Caps, Page, SessionState

HIDDEN = np.ones(4, dtype=np.float32)


def page(number: int, items: tuple[int, ...], explore: tuple[bool, ...] | None = None) -> Page:
    flags = explore or tuple(False for _ in items)
    return Page(number, items, tuple(1.0 for _ in items), flags, "v1")


def test_swipe_counts_remembers_and_credits_explored_item() -> None:
    state = SessionState(model_version="v0")
    state.add_page(page(0, (5, 6, 7), (False, True, False)), {6: 3}, Caps())
    assert state.apply_swipe(5, 1.0, HIDDEN, "e1", "v1", Caps()) is None
    assert state.apply_swipe(6, 0.5, HIDDEN, None, "v1", Caps()) == 3
    assert state.apply_swipe(6, 0.05, HIDDEN, None, "v1", Caps()) is None  # credited only once
    assert (state.seq, state.seen, state.events) == (3, [5, 6, 6], {"e1": 1})
    assert state.weights == [1.0, 0.5, 0.05]
    assert state.model_version == "v1"


def test_pages_advance_and_count_as_served() -> None:
    state = SessionState(model_version="v1")
    state.add_page(page(0, (1, 2)), {}, Caps())
    state.add_page(page(1, (3,)), {}, Caps())
    assert state.next_page == 2
    assert state.served == [1, 2, 3]
    state.apply_swipe(9, 1.0, HIDDEN, None, "v1", Caps())
    state.apply_swipe(2, 1.0, HIDDEN, None, "v1", Caps())  # served, then swiped: excluded once
    assert state.excluded() == {1, 2, 3, 9}


def test_caps_drop_the_oldest() -> None:
    caps = Caps(seen=3, served=4, pages=2, event_ids=2, pending_explore=1)
    state = SessionState(model_version="v1")
    for item in range(5):
        state.apply_swipe(item, item / 10, HIDDEN, f"e{item}", "v1", caps)
    assert state.seen == [2, 3, 4]
    assert state.weights == [0.2, 0.3, 0.4]  # trimmed with the items they belong to
    assert list(state.events) == ["e3", "e4"]
    for number in range(3):
        items = (10 * number, 10 * number + 1)
        state.add_page(page(number, items), {items[0]: number}, caps)
    assert list(state.pages) == [1, 2]
    assert state.served == [10, 11, 20, 21]
    assert state.pending_explore == {20: 2}
    assert state.next_page == 3
