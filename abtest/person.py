"""The simulated person of the A/B, and the assumptions that decide its result.

- Intent, drift and reactions are the load test's (loadtest/traffic.py): an intent over the
  bundle's item clusters, drawn anew with probability 0.08 per swipe; an off-intent item is
  skipped 85% of the time, an on-intent one 5%; watch fractions, likes and shares follow.
- An uploaded item is judged by its content: it belongs to the cluster of the bundle item
  whose title it carries (the A/B uploads copies of bundle titles under new ids).
- Leaving is the feed's doing: after every swipe the person leaves with probability
  `LEAVE_PROB` (a satisfied person's natural end: 50 swipes on average), plus
  `LEAVE_AFTER_SKIP` after a skip (each bad item may end the session), and at
  `MAX_SWIPES` at the latest. A feed that shows more off-intent items gets shorter sessions.
  With 0.08 after a skip instead of 0.03, sessions were too short (12 swipes, 1.2 pages) for
  any feed to differ from its cold-start page (a 40-session pilot, in the README).
"""

import random

from loadtest.traffic import SKIP_MS, Catalogue, Engagement, SimulatedUser

LEAVE_PROB = 1 / 50
LEAVE_AFTER_SKIP = 0.03
MAX_SWIPES = 200


class Person:
    """One session's person: reacts to each served item, then stays or leaves."""

    def __init__(self, catalogue: Catalogue, rng: random.Random) -> None:
        self._user = SimulatedUser(catalogue, rng)
        self._rng = rng
        self.swipes = 0
        self.left = False

    def react(self, item_id: str) -> Engagement:
        engagement = self._user.react(item_id)
        self.swipes += 1
        skipped = engagement.watch_ms < SKIP_MS
        leave = LEAVE_PROB + (LEAVE_AFTER_SKIP if skipped else 0.0)
        self.left = self.swipes >= MAX_SWIPES or self._rng.random() < leave
        return engagement
