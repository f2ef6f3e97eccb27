"""Carrying a live session over to a bundle swapped in while it ran.

A state belongs to the bundle that wrote it (`model_version`): its item rows index that
bundle's catalogue, its hidden state is that GRU's. The first request after a swap brings
it over, inside the same atomic store update as the request itself:

- seen and served rows go old row -> item id -> new row, uploads included (catalogue/); items
  the new catalogue lacks drop, and so do rows the old catalogue did not have yet at the swap
  (uploads that another replica, further on in the catalogue log, had already served);
- the hidden state is rebuilt by replaying the last `replay_items` seen items, with their
  engagement weights, through the new GRU from a zero state (0: no hidden, a cold start);
  an upload is stepped on by its embedding in the new bundle's item space;
- stored pages and pending explore slots drop (old rows, old clusters): a cursor of a page
  served before the swap gets a new page, and `next_page` keeps counting;
- seq and event ids stay, so a retried event is still applied once.

A state of a bundle older than the replaced one cannot be mapped: it keeps its seq and event
ids and starts over on everything else.
"""

from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from app.catalogue.snapshot import Catalogue
from app.gru.step import GruStep
from app.serving import Serving
from app.session.state import SessionState

Migration = Literal["carried", "reset"]
MISSING = -1  # the row of an item the new catalogue does not hold


class Rows(Protocol):
    """Item rows and ids: a bundle's ItemVocab, or a Catalogue (the bundle plus uploads)."""

    def __len__(self) -> int: ...
    def ids_of(self, rows: npt.NDArray[np.int64]) -> list[str]: ...
    def row(self, item_id: str) -> int | None: ...


def map_rows(old: Rows, new: Rows) -> npt.NDArray[np.int64]:
    """(len(old),) each old row -> the same item's row in `new`, or MISSING.

    Built once per swap, off the event loop, so that carrying a session over is one lookup.
    """
    ids = old.ids_of(np.arange(len(old), dtype=np.int64))
    rows = [new.row(item_id) for item_id in ids]
    return np.array([MISSING if row is None else row for row in rows], dtype=np.int64)


def _mapped(rows: npt.NDArray[np.int64], old_rows: list[int]) -> npt.NDArray[np.int64]:
    """Old rows through the map; MISSING for rows beyond it."""
    old = np.asarray(old_rows, dtype=np.int64)
    known = (old >= 0) & (old < rows.size)
    new = np.full(old.shape, MISSING, dtype=np.int64)
    new[known] = rows[old[known]]
    return new


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
    seen = _mapped(previous.rows, state.seen)
    kept = seen != MISSING
    state.seen = seen[kept].tolist()
    state.weights = np.asarray(state.weights, dtype=np.float64)[kept].tolist()
    served = _mapped(previous.rows, state.served)
    state.served = served[served != MISSING].tolist()
    state.hidden = None
    if replay_items > 0:
        start = max(len(state.seen) - replay_items, 0)
        state.hidden = replay(
            serving.catalogue, model.step, state.seen[start:], state.weights[start:]
        )
    return "carried"


def replay(
    catalogue: Catalogue, step: GruStep, rows: list[int], weights: list[float]
) -> npt.NDArray[np.float32] | None:
    """The hidden state after these swipes from a zero state; None when there are none."""
    hidden = None
    for row, weight in zip(rows, weights, strict=True):
        hidden = catalogue.step_on(step, hidden, row, weight)
    return hidden
