"""What one simulated session remembers between requests: the items served and not yet
swiped, the next cursor, its last request, which a retry repeats and checks, a swipe the
service did not acknowledge (sent again before anything else), and its swipe ledger.

`same_page` is that check for a retried cursor: the replayed page must equal the served one
exactly (items, order, sources, ranks and scores), unless either was a degraded page (built
while the session store was unreachable or timed out, and stored nowhere) or another model
version answered (stored pages are dropped when a swapped-in bundle takes the session over).
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from loadtest.ledger import SwipeLedger
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
    model_version: str = ""  # a replay by another version is a new page


@dataclass(slots=True)
class Session:
    id: str
    person: SimulatedUser
    swipes_left: int  # heavy-tailed at the start; the session ends at 0
    queue: deque[str] = field(default_factory=deque)  # served, not yet swiped
    next_cursor: str | None = None  # None: the first page is asked without a cursor
    events: int = 0  # event ids are 1, 2, ... within the session
    last: SentSwipe | ServedPage | None = None
    unacknowledged: dict[str, Any] | None = None  # a swipe answered 503 or not at all
    ledger: SwipeLedger = field(default_factory=SwipeLedger)


def same_page(served: ServedPage, replayed: dict[str, Any]) -> bool:
    """Whether a replayed page is exactly the served one (or may differ: see above)."""
    if served.degraded or replayed.get("degraded") is True:
        return True
    if replayed.get("model_version", "") != served.model_version:
        return True
    items = replayed.get("items")
    return isinstance(items, list) and served.items == items
