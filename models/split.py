"""Split sessions into train, validation and test sets, exactly and deterministically.

By user id (MicroLens, which has no timestamps) or by time (the last days are the test set,
the days before them validation), as in GRU4Rec's preprocessing of YOOCHOOSE (one day each)
and session-rec's of Diginetica (seven days of test).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from models.config import TrainConfig
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


def split_by_time(
    sessions: Sequence[RawSession], test_s: float = 86400.0, valid_s: float = 86400.0
) -> Split:
    """Test: sessions ending within test_s of the last event; valid: the valid_s before that.

    Intervals are half-open to the left: a session ending exactly at t_max - test_s is
    validation, one ending exactly at t_max - test_s - valid_s is training.
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
        if end_s > t_max - test_s:
            split.test.append(session)
        elif end_s > t_max - test_s - valid_s:
            split.valid.append(session)
        else:
            split.train.append(session)
    return split


def split_rule(config: TrainConfig, sessions: Sequence[RawSession]) -> str:
    """The rule the config means for these sessions: "auto" is "time" wherever they all
    carry times, else "user_mod"."""
    if config.split != "auto":
        return config.split
    timed = bool(sessions) and all(s.end_s is not None for s in sessions)
    return "time" if timed else "user_mod"


def split_as_configured(config: TrainConfig, sessions: Sequence[RawSession]) -> Split:
    """The config's rule: "user_mod", or "time" with its test and validation days."""
    if split_rule(config, sessions) == "user_mod":
        return split_by_user_mod(sessions)
    return split_by_time(sessions, config.test_days * 86400.0, config.valid_days * 86400.0)
