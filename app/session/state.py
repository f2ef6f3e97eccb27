"""SessionState: everything one session carries between requests, and its invariants.

Both request paths read it, change it in memory and write it back in one atomic store
update. Every collection is bounded by `Caps`, so an endless session cannot grow memory
without limit: the oldest entries go first.
"""

from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

# where a served slot came from: the model's ranking, the bandit, or a second showing
Source = Literal["model", "explore", "recycled"]
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Caps:
    """Per-session bounds (settings max_seen, max_served, max_pages, ...)."""

    seen: int = 1000
    served: int = 2000
    pages: int = 20
    event_ids: int = 256
    pending_explore: int = 200


@dataclass(frozen=True, slots=True)
class Page:
    """One served page, kept so that its cursor replays it exactly."""

    number: int  # 0, 1, 2, ... within the session
    items: tuple[int, ...]  # item rows in rank order
    scores: tuple[float, ...]
    explore: tuple[bool, ...]  # True where the slot came from the bandit
    model_version: str
    # the last slots, served to this session before: the catalogue had nothing new left
    recycled: int = 0

    def sources(self) -> tuple[Source, ...]:
        """The API's `source` of each slot: "explore", "recycled" or "model"."""
        fresh = len(self.items) - self.recycled
        return tuple(
            "recycled" if slot >= fresh else "explore" if flag else "model"
            for slot, flag in enumerate(self.explore)
        )


@dataclass(slots=True)
class SessionState:
    model_version: str  # the bundle whose GRU produced `hidden`
    hidden: npt.NDArray[np.float32] | None = None  # (H,); None until the first swipe
    seq: int = 0  # swipes applied
    seen: list[int] = field(default_factory=list)  # swiped item rows, oldest first
    # the engagement weight of each seen item: what a model swap replays (session/migrate.py)
    weights: list[float] = field(default_factory=list)
    served: list[int] = field(default_factory=list)  # served item rows, oldest first
    events: dict[str, int] = field(default_factory=dict)  # applied event id -> its seq
    pages: dict[int, Page] = field(default_factory=dict)  # page number -> page, oldest first
    next_page: int = 0  # number of the next page a request without a known cursor builds
    pending_explore: dict[int, int] = field(default_factory=dict)  # explored item row -> arm

    def apply_swipe(
        self,
        item_row: int,
        weight: float,
        hidden: npt.NDArray[np.float32],
        event_id: str | None,
        model_version: str,
        caps: Caps,
    ) -> int | None:
        """Record one applied swipe; returns the bandit arm to credit, if it was explored."""
        self.hidden = hidden
        self.model_version = model_version
        self.seq += 1
        _append_bounded(self.seen, item_row, caps.seen)
        _append_bounded(self.weights, weight, caps.seen)
        if event_id is not None:
            self.events[event_id] = self.seq
            _trim_oldest(self.events, caps.event_ids)
        return self.pending_explore.pop(item_row, None)

    def add_page(self, page: Page, arms: dict[int, int], caps: Caps) -> None:
        """Store a freshly built page; its items count as served from now on."""
        self.pages[page.number] = page
        _trim_oldest(self.pages, caps.pages)
        self.next_page = max(self.next_page, page.number + 1)
        if page.recycled:  # served again: now the most recently served, not the least
            again = set(page.items[len(page.items) - page.recycled :])
            self.served[:] = [row for row in self.served if row not in again]
        for item_row in page.items:
            _append_bounded(self.served, item_row, caps.served)
        self.pending_explore.update(arms)
        _trim_oldest(self.pending_explore, caps.pending_explore)

    def excluded(self) -> set[int]:
        """Items never to serve again in this session: swiped or already served, each once.

        A swiped item was almost always served first; counting it once keeps the feed's
        over-fetch (count + excluded) from growing twice as fast as the session.
        """
        return set(self.seen).union(self.served)


def _append_bounded(values: list[V], value: V, cap: int) -> None:
    values.append(value)
    if len(values) > cap:
        del values[: len(values) - cap]


def _trim_oldest(mapping: dict[K, V], cap: int) -> None:
    """Dicts keep insertion order, so the first keys are the oldest."""
    while len(mapping) > cap:
        del mapping[next(iter(mapping))]
