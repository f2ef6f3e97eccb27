"""Turn one swipe's engagement signals into a weight in [0, 1] for the GRU step.

Watch-time fraction is the most honest signal, then share, save, replay, like and comment;
a swipe away within `skip_ms` is a skip. Used by the service on every swipe and by training
wherever the log has signals, so both see the same weights. Standard library only.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngagementWeights:
    """How much each signal counts; the defaults are the product decision."""

    skip_ms: int = 3000  # a swipe away before this much watch time is a skip
    skip_weight: float = 0.05  # a skip barely moves the session state
    reference_duration_ms: int = 15000  # item length assumed when its duration is unknown
    share: float = 0.6  # bonuses added to the watch fraction, strongest signal first
    save: float = 0.5
    replay: float = 0.4  # once, however many replays
    like: float = 0.3
    comment: float = 0.3

    def __post_init__(self) -> None:
        if self.skip_ms < 0 or self.reference_duration_ms <= 0:
            raise ValueError("skip_ms must be >= 0 and reference_duration_ms > 0")
        if not 0.0 <= self.skip_weight <= 1.0:  # False for NaN too
            raise ValueError(f"skip_weight must lie in [0, 1], got {self.skip_weight}")
        bonuses = (self.share, self.save, self.replay, self.like, self.comment)
        if not all(math.isfinite(bonus) and bonus >= 0.0 for bonus in bonuses):
            raise ValueError(f"signal bonuses must be finite and >= 0, got {bonuses}")


DEFAULT_WEIGHTS = EngagementWeights()


@dataclass(frozen=True, slots=True)
class EngagementEvent:
    """What one swipe tells us; None means the client did not report it."""

    watch_ms: int | None = None  # how long the item played before the swipe away
    duration_ms: int | None = None  # the item's length
    liked: bool = False
    shared: bool = False
    saved: bool = False
    commented: bool = False
    replays: int = 0  # how many times the item started over


def engagement_weight(
    event: EngagementEvent, weights: EngagementWeights = DEFAULT_WEIGHTS
) -> float:
    """Weight in [0, 1]: 1 for a full watch or an interaction without a watch time,
    `skip_weight` for a skip, and never less than a skip for anything watched longer."""
    if event.watch_ms is not None and event.watch_ms < 0:
        raise ValueError(f"watch_ms must be >= 0, got {event.watch_ms}")
    if event.duration_ms is not None and event.duration_ms <= 0:
        raise ValueError(f"duration_ms must be > 0, got {event.duration_ms}")
    if event.replays < 0:
        raise ValueError(f"replays must be >= 0, got {event.replays}")

    if event.watch_ms is None:
        return 1.0  # no watch time (e.g. training logs of plain interactions): counts fully
    explicit = event.liked or event.shared or event.saved or event.commented or event.replays > 0
    if event.watch_ms < weights.skip_ms and not explicit:
        return weights.skip_weight

    length_ms = event.duration_ms or weights.reference_duration_ms
    fraction = min(1.0, event.watch_ms / length_ms)
    bonus = (
        weights.share * event.shared
        + weights.save * event.saved
        + weights.replay * (event.replays > 0)
        + weights.like * event.liked
        + weights.comment * event.commented
    )
    # 3 s of a 10-minute item is a 0.005 fraction: watching past the skip threshold must
    # not weigh less than skipping before it
    return min(1.0, max(weights.skip_weight, fraction + bonus))


ABANDON_SKIPS = 3  # skips in a row that abandon a session (session health, the README)


def first_skip_run(weights: Sequence[float], skip_weight: float, run: int) -> int | None:
    """The 0-based position where the first run of `run` skips in a row starts, or None."""
    length = 0
    for position, weight in enumerate(weights):
        length = length + 1 if weight <= skip_weight else 0
        if length == run:
            return position - run + 1
    return None
