"""Split sessions into train, validation and test sets, exactly and deterministically.

By user id (MicroLens, which has no timestamps) or by time (the last day is the test set,
the day before it validation), as in GRU4Rec's preprocessing of YOOCHOOSE.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from models.sessions import RawSession


@dataclass(frozen=True, slots=True)
class Split:
    train: list[RawSession]
    valid: list[RawSession]
    test: list[RawSession]


def split_by_user_mod(sessions: Sequence[RawSession]) -> Split:
    """Test: integer session id mod 10 == 0, valid: mod 10 == 1, train: the other 80%."""
    parts: tuple[list[RawSession], list[RawSession], list[RawSession]] = ([], [], [])
    for session in sessions:
        try:
            remainder = int(session.session_id) % 10
        except ValueError:
            raise ValueError(f"session id {session.session_id!r} is not an integer") from None
        # remainder 0 -> test (index 2), 1 -> valid (1), anything else -> train (0)
        parts[{0: 2, 1: 1}.get(remainder, 0)].append(session)
    return Split(*parts)


def split_by_time(sessions: Sequence[RawSession], day_s: float = 86400.0) -> Split:
    """Test: sessions ending within day_s of the last event; valid: the day_s before that.

    Intervals are half-open to the left: a session ending exactly at t_max - day_s is
    validation, one ending exactly at t_max - 2 * day_s is training.
    """
    ends = []
    for session in sessions:
        if session.end_s is None:
            raise ValueError(f"session {session.session_id!r} has no end time")
        ends.append(session.end_s)
    if not ends:
        return Split([], [], [])
    t_max = max(ends)
    split = Split([], [], [])
    for session, end_s in zip(sessions, ends, strict=True):
        if end_s > t_max - day_s:
            split.test.append(session)
        elif end_s > t_max - 2 * day_s:
            split.valid.append(session)
        else:
            split.train.append(session)
    return split
