"""Sessions in flat form, as GRU4Rec keeps them: one array of item rows and session offsets.

Everything after the readers works on `Sessions`: the batcher, the negative sampler, the
baselines and the evaluation. Raw files carry external item ids; `models.vocab` turns them
into the dense item rows used here.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class RawSession:
    """One session as read from a file, before items are mapped to rows."""

    session_id: str
    item_ids: tuple[str, ...]
    weights: tuple[float, ...]  # engagement weight in [0, 1] per event; 1.0 without signals
    start_s: float | None = None  # time of the first event (epoch seconds), None if unknown
    end_s: float | None = None  # time of the last event

    def __post_init__(self) -> None:
        if len(self.item_ids) != len(self.weights):
            raise ValueError(f"session {self.session_id!r}: one weight per item is needed")


@dataclass(frozen=True, slots=True)
class Sessions:
    """Session s holds the events items[offsets[s]:offsets[s + 1]], oldest first."""

    items: npt.NDArray[np.int64]  # (n_events,) dense item rows
    offsets: npt.NDArray[np.int64]  # (n_sessions + 1,), offsets[0] == 0, non-decreasing
    weights: npt.NDArray[np.float32]  # (n_events,) engagement weights in [0, 1]

    def __post_init__(self) -> None:
        assert self.items.ndim == 1
        assert self.offsets.ndim == 1
        assert self.weights.ndim == 1
        assert self.items.dtype == np.int64
        assert self.offsets.dtype == np.int64
        assert self.weights.dtype == np.float32
        assert len(self.offsets) >= 1
        assert self.offsets[0] == 0
        assert self.offsets[-1] == len(self.items) == len(self.weights)
        assert np.all(np.diff(self.offsets) >= 0)

    @classmethod
    def from_lists(
        cls, sessions: Sequence[Sequence[int]], weights: Sequence[Sequence[float]] | None = None
    ) -> "Sessions":
        """Build from one list of item rows per session (and optionally one of weights)."""
        lengths = np.array([len(s) for s in sessions], dtype=np.int64)
        offsets = np.zeros(len(sessions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = np.fromiter((i for s in sessions for i in s), dtype=np.int64, count=offsets[-1])
        if weights is None:
            flat_weights = np.ones(len(items), dtype=np.float32)
        else:
            flat_weights = np.fromiter(
                (w for ws in weights for w in ws), dtype=np.float32, count=offsets[-1]
            )
        return cls(items=items, offsets=offsets, weights=flat_weights)

    @property
    def n_sessions(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_events(self) -> int:
        return len(self.items)

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        return np.diff(self.offsets)

    @property
    def n_predictions(self) -> int:
        """Next-item targets: every event but the first of each session."""
        return int(np.maximum(self.lengths - 1, 0).sum())

    def session(self, s: int) -> npt.NDArray[np.int64]:
        return self.items[self.offsets[s] : self.offsets[s + 1]]

    def select(self, keep: npt.NDArray[np.bool_]) -> "Sessions":
        """The sessions where keep is true, in their order."""
        assert keep.shape == (self.n_sessions,)
        starts, ends = self.offsets[:-1][keep], self.offsets[1:][keep]
        offsets = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(ends - starts, out=offsets[1:])
        # each kept event's old index = its session's old start + its place in the session
        event_index = np.repeat(starts - offsets[:-1], ends - starts) + np.arange(offsets[-1])
        return Sessions(self.items[event_index], offsets, self.weights[event_index])

    def prediction_points(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(session index, position) of every next-item target, session by session.

        Position t >= 1 means: predict items[offsets[s] + t] from the prefix before it.
        """
        lengths = self.lengths
        counts = np.maximum(lengths - 1, 0)
        session_index = np.repeat(np.arange(self.n_sessions, dtype=np.int64), counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        positions = np.arange(len(session_index), dtype=np.int64) - starts + 1
        return session_index, positions

    def item_counts(self, n_items: int) -> npt.NDArray[np.int64]:
        """How often each item row occurs: the popularity used for sampling and cold start."""
        return np.bincount(self.items, minlength=n_items).astype(np.int64)
