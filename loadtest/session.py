"""What one simulated session remembers between requests: the items served and not yet
swiped, the next cursor, and its last request, which a retry repeats and checks.

`same_page` is that check for a retried cursor: the replayed page must equal the served one
exactly (items, order, sources, ranks and scores), unless either was a degraded page (built
while the session store was unreachable or timed out, and stored nowhere).
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from loadtest.traffic import SimulatedUser


@dataclass(frozen=True, slots=True)
class SentSwipe:
    body: dict[str, Any]
    seq: int  # what the service answered: a retry must echo it, marked duplicate


@dataclass(frozen=True, slots=True)
class ServedPage:
    cursor: str  # this page's own token
    items: list[Any]  # as served: the same cursor must return exactly these
    degraded: bool = False  # served without the session store: a replay may differ


@dataclass(slots=True)
class Session:
    id: str
    person: SimulatedUser
    swipes_left: int  # heavy-tailed at the start; the session ends at 0
    queue: deque[str] = field(default_factory=deque)  # served, not yet swiped
    next_cursor: str | None = None  # None: the first page is asked without a cursor
    events: int = 0  # event ids are 1, 2, ... within the session
    last: SentSwipe | ServedPage | None = None


def same_page(served: ServedPage, replayed: dict[str, Any]) -> bool:
    """Whether a replayed page is exactly the served one (or either is degraded)."""
    if served.degraded or replayed.get("degraded") is True:
        return True
    items = replayed.get("items")
    return isinstance(items, list) and served.items == items
