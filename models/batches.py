"""Session-parallel mini-batches (Hidasi et al., ICLR 2016, section 3.1.1).

Each of the batch's rows follows one session, one event per step; when a session ends the
next one takes its row and the row's hidden state is reset. No padding and no truncation:
every event but the last of a session is an input exactly once per epoch. When no session
is left to take a row, the row is dropped and the batch shrinks.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.sessions import Sessions


@dataclass(frozen=True, slots=True)
class Batch:
    """One step for every active row."""

    inputs: npt.NDArray[np.int64]  # (b,) item row of the current event
    targets: npt.NDArray[np.int64]  # (b,) item row of the next event
    weights: npt.NDArray[np.float32]  # (b,) engagement weight of the current event
    carry: npt.NDArray[np.int64]  # (b,) row of the previous step's hidden state continued here
    reset: npt.NDArray[np.bool_]  # (b,) the row starts a new session: its hidden state is zero
    session: npt.NDArray[np.int64]  # (b,) the session each row follows


def session_parallel_batches(
    sessions: Sessions, batch_size: int, order: npt.NDArray[np.int64] | None = None
) -> Iterator[Batch]:
    """Steps over the sessions of length >= 2, taken in `order` (default: as stored)."""
    lengths = sessions.lengths
    queue = np.arange(sessions.n_sessions) if order is None else order
    queue = queue[lengths[queue] >= 2]  # a single event has no next item to learn from
    n_rows = min(batch_size, len(queue))
    session = queue[:n_rows].astype(np.int64)
    position = sessions.offsets[queue[:n_rows]].copy()  # (b,) index of the current event
    end = sessions.offsets[queue[:n_rows] + 1].copy()  # (b,) one past the session's last event
    next_in_queue = n_rows
    carry = np.arange(n_rows, dtype=np.int64)
    reset = np.ones(n_rows, dtype=np.bool_)
    while len(position):
        yield Batch(
            inputs=sessions.items[position],
            targets=sessions.items[position + 1],
            weights=sessions.weights[position],
            carry=carry,
            reset=reset,
            session=session,
        )
        position = position + 1
        finished = position + 1 >= end
        reset = finished.copy()
        session = session.copy()  # the yielded batch keeps its own
        for row in np.flatnonzero(finished):
            if next_in_queue < len(queue):
                s = queue[next_in_queue]
                next_in_queue += 1
                position[row], end[row] = sessions.offsets[s], sessions.offsets[s + 1]
                session[row] = s
                finished[row] = False
        keep = ~finished  # rows whose session ended with none left to take over
        carry = np.flatnonzero(keep).astype(np.int64)
        position, end, reset = position[keep], end[keep], reset[keep]
        session = session[keep]
