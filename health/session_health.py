"""One session's health, from its entries in the event log (definitions in the README).

- swipes: applied swipes (a retried event id is logged once);
- completion ratio: the share of swipes with weight >= 1 (watched through, or a signal);
- skip ratio: the share with weight <= the skip weight (swiped away within SKIP_MS);
- first abandonment: the first swipe that starts a run of `skip_run` skips in a row, or a
  skip that is the session's last swipe; counted in swipes (its seq) and in seconds since
  the session's first swipe. A session without one was never abandoned;
- diversity: distinct item clusters (the bandit's arms) among the swiped bundle items;
- exploration reward rate: the weights of swipes on items the session was served as
  "explore", over those explore impressions.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.engagement import first_skip_run
from app.events.entries import Entry, PageEntry, SwipeEntry


@dataclass(slots=True)
class SessionLog:
    swipes: list[SwipeEntry] = field(default_factory=list)
    pages: list[PageEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SessionHealth:
    session_id: str
    swipes: int
    pages: int
    seconds: float  # first to last swipe
    completion_ratio: float
    skip_ratio: float
    abandoned_at_swipe: int | None  # None: never abandoned
    abandoned_after_s: float | None
    clusters: int
    explore_impressions: int
    explore_reward_rate: float | None  # None: nothing explored was served


def by_session(entries: Iterable[Entry]) -> dict[str, SessionLog]:
    """Each session's swipes in seq order and pages in number order."""
    sessions: dict[str, SessionLog] = {}
    for entry in entries:
        log = sessions.setdefault(entry.session_id, SessionLog())
        if isinstance(entry, SwipeEntry):
            log.swipes.append(entry)
        else:
            log.pages.append(entry)
    for log in sessions.values():
        log.swipes.sort(key=lambda swipe: swipe.seq)
        log.pages.sort(key=lambda page: page.number)
    return sessions


def first_abandonment(weights: list[float], skip_weight: float, skip_run: int) -> int | None:
    """The 0-based position of the first abandoning swipe, or None."""
    position = first_skip_run(weights, skip_weight, skip_run)
    if position is not None:
        return position
    if weights and weights[-1] <= skip_weight:  # ended in a run shorter than skip_run
        position = len(weights)
        while position > 0 and weights[position - 1] <= skip_weight:
            position -= 1
        return position
    return None


def session_health(
    session_id: str,
    log: SessionLog,
    clusters: Mapping[str, int],
    skip_weight: float,
    skip_run: int,
) -> SessionHealth | None:
    """None for a session without swipes (it only asked for pages)."""
    if not log.swipes:
        return None
    weights = [swipe.weight for swipe in log.swipes]
    n = len(weights)
    start_ms = log.swipes[0].server_ms
    abandoned = first_abandonment(weights, skip_weight, skip_run)
    explored = {
        item_id
        for page in log.pages
        for item_id, source in zip(page.item_ids, page.sources, strict=True)
        if source == "explore"
    }
    impressions = sum(page.sources.count("explore") for page in log.pages)
    reward = sum(swipe.weight for swipe in log.swipes if swipe.item_id in explored)
    return SessionHealth(
        session_id=session_id,
        swipes=n,
        pages=len(log.pages),
        seconds=(log.swipes[-1].server_ms - start_ms) / 1000,
        completion_ratio=sum(weight >= 1.0 for weight in weights) / n,
        skip_ratio=sum(weight <= skip_weight for weight in weights) / n,
        abandoned_at_swipe=None if abandoned is None else log.swipes[abandoned].seq,
        abandoned_after_s=(
            None if abandoned is None else (log.swipes[abandoned].server_ms - start_ms) / 1000
        ),
        clusters=len({clusters[s.item_id] for s in log.swipes if s.item_id in clusters}),
        explore_impressions=impressions,
        explore_reward_rate=reward / impressions if impressions else None,
    )
