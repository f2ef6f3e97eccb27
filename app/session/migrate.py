"""Carrying a live session over to a bundle swapped in while it ran.

A state belongs to the bundle that wrote it (`model_version`): its item rows index that
bundle's catalogue, its hidden state is that GRU's. The first request after a swap brings
it over, inside the same atomic store update as the request itself:

- seen and served rows go old row -> item id -> new row; items the new catalogue lacks drop;
- the hidden state is rebuilt by replaying the last `replay_items` seen items, with their
  engagement weights, through the new GRU from a zero state (0: no hidden, a cold start);
- stored pages and pending explore slots drop (old rows, old clusters): a cursor of a page
  served before the swap gets a new page, and `next_page` keeps counting;
- seq and event ids stay, so a retried event is still applied once.

A state of a bundle older than the replaced one cannot be mapped: it keeps its seq and event
ids and starts over on everything else.
"""

from typing import Literal

import numpy as np
import numpy.typing as npt

from app.gru.step import GruStep
from app.gru.vocab import ItemVocab
from app.serving import Serving
from app.session.state import SessionState

Migration = Literal["carried", "reset"]
MISSING = -1  # the row of an item the new catalogue does not hold


def map_rows(old: ItemVocab, new: ItemVocab) -> npt.NDArray[np.int64]:
    """(len(old),) each old row -> the same item's row in `new`, or MISSING.

    Built once per swap, off the event loop, so that carrying a session over is one lookup.
    """
    ids = old.ids_of(np.arange(len(old), dtype=np.int64))
    rows = [new.row(item_id) for item_id in ids]
    return np.array([MISSING if row is None else row for row in rows], dtype=np.int64)


def migrate(state: SessionState, serving: Serving, replay_items: int) -> Migration | None:
    """Bring `state` (changed in place) to `serving.model`; None when it already is."""
    model, previous = serving.model, serving.previous
    if state.model_version == model.version:
        return None
    old_version, state.model_version = state.model_version, model.version
    state.pages.clear()
    state.pending_explore.clear()
    if previous is None or old_version != previous.version:
        state.hidden = None
        state.seen, state.weights, state.served = [], [], []
        return "reset"
    seen = previous.rows[np.asarray(state.seen, dtype=np.int64)]
    kept = seen != MISSING
    state.seen = seen[kept].tolist()
    state.weights = np.asarray(state.weights, dtype=np.float64)[kept].tolist()
    served = previous.rows[np.asarray(state.served, dtype=np.int64)]
    state.served = served[served != MISSING].tolist()
    state.hidden = None
    if replay_items > 0:
        start = max(len(state.seen) - replay_items, 0)
        state.hidden = replay(model.step, state.seen[start:], state.weights[start:])
    return "carried"


def replay(step: GruStep, rows: list[int], weights: list[float]) -> npt.NDArray[np.float32] | None:
    """The hidden state after these swipes from a zero state; None when there are none."""
    hidden = None
    for row, weight in zip(rows, weights, strict=True):
        hidden = step.step(hidden, row, weight)
    return hidden
