"""Map external item ids to dense item rows and encode raw sessions as flat `Sessions`.

The vocabulary comes from the training sessions only; events whose item it does not know
are dropped and counted, so evaluation can report how many test events it could not score.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.sessions import RawSession, Sessions


@dataclass(frozen=True)
class ItemVocab:
    """Row r holds item item_ids[r]; rows are dense, 0 .. len - 1."""

    item_ids: tuple[str, ...]
    row_of: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        row_of = {item_id: row for row, item_id in enumerate(self.item_ids)}
        if len(row_of) != len(self.item_ids):
            raise ValueError("item ids must be unique")
        object.__setattr__(self, "row_of", row_of)  # frozen: set once here

    @classmethod
    def from_sessions(cls, sessions: Sequence[RawSession]) -> "ItemVocab":
        """Items in order of first appearance, so the same sessions give the same rows."""
        first_seen = dict.fromkeys(item for s in sessions for item in s.item_ids)
        return cls(tuple(first_seen))

    def extended(self, item_ids: Iterable[str]) -> "ItemVocab":
        """This vocabulary with the unknown ones of item_ids appended: old rows stay put."""
        new = dict.fromkeys(i for i in item_ids if i not in self.row_of)
        return ItemVocab(self.item_ids + tuple(new))

    def __len__(self) -> int:
        return len(self.item_ids)

    def row(self, item_id: str) -> int:
        return self.row_of[item_id]

    def rows(self, item_ids: Iterable[str]) -> list[int]:
        return [self.row_of[item_id] for item_id in item_ids]


@dataclass(frozen=True, slots=True)
class Encoded:
    sessions: Sessions
    session_ids: tuple[str, ...]  # one per kept session, aligned with sessions
    dropped_events: int  # events whose item is not in the vocabulary
    dropped_sessions: int  # sessions left shorter than min_length after that


def encode(vocab: ItemVocab, raw: Sequence[RawSession], min_length: int = 1) -> Encoded:
    """Rows for known items (unknown ones dropped), then sessions of at least min_length."""
    if min_length < 1:
        raise ValueError(f"min_length must be >= 1, got {min_length}")
    get = vocab.row_of.get
    # one flat pass in Python, the rest in numpy: -1 marks an unknown item
    rows = np.fromiter((get(i, -1) for s in raw for i in s.item_ids), dtype=np.int64)
    weights = np.fromiter((w for s in raw for w in s.weights), dtype=np.float32)
    raw_lengths = np.fromiter((len(s.item_ids) for s in raw), dtype=np.int64, count=len(raw))
    known = rows >= 0  # (n_events,)
    session_of_event = np.repeat(np.arange(len(raw)), raw_lengths)  # (n_events,)
    lengths = np.bincount(session_of_event[known], minlength=len(raw))  # (n_sessions,)
    keep = lengths >= min_length  # (n_sessions,)
    event_kept = known & keep[session_of_event]

    offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[keep], out=offsets[1:])
    sessions = Sessions(rows[event_kept], offsets, weights[event_kept])
    session_ids = tuple(s.session_id for s, k in zip(raw, keep.tolist(), strict=True) if k)
    return Encoded(
        sessions=sessions,
        session_ids=session_ids,
        dropped_events=int((~known).sum()),
        dropped_sessions=int((~keep).sum()),
    )
