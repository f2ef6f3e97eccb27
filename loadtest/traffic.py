"""The person behind each simulated session: an intent over the served bundle's item clusters
that drifts now and then, engagement that follows it, and a heavy-tailed session length.

Pure (no locust, no HTTP), so the tests drive it with a seeded `random.Random`.
"""

import itertools
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.bundle import CLUSTERS_FILE, ITEM_IDS_FILE, POPULARITY_FILE
from app.engagement import DEFAULT_WEIGHTS

SKIP_MS = DEFAULT_WEIGHTS.skip_ms  # a swipe away before this much watch time is a skip
# Behaviour per item as (on-intent, off-intent): off-intent items are mostly skipped quickly,
# on-intent ones mostly watched to a high fraction and liked or shared more often.
SKIP_PROB = (0.05, 0.85)
WATCH_BETA = ((6.0, 1.5), (1.5, 5.0))  # Beta(a, b) watch fraction of an item not skipped
LIKE_PROB = (0.3, 0.01)
SHARE_PROB = (0.05, 0.0)
DRIFT_PROB = 0.08  # per swipe: the intent is drawn anew
SWIPES_MEDIAN = 15.0  # session length: lognormal, heavy-tailed like real sessions
SWIPES_SIGMA = 1.0
MAX_SWIPES = 400
DURATION_MEDIAN_S = 20.0  # item lengths: lognormal, fixed per item, in [5 s, 180 s]
DURATION_SIGMA = 0.6


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Items with their cluster and length; clusters weighted by their total popularity."""

    cluster_of: dict[str, int]  # item id -> cluster
    duration_ms: dict[str, int]  # item id -> length
    clusters: tuple[int, ...]
    cum_weights: tuple[float, ...]  # cumulative popularity mass of `clusters`: heavy-tailed

    @classmethod
    def build(
        cls, item_ids: list[str], clusters: list[int], popularity: list[float]
    ) -> "Catalogue":
        if not len(item_ids) == len(clusters) == len(popularity) > 0:
            raise ValueError("item_ids, clusters and popularity must be non-empty and aligned")
        mass: dict[int, float] = {}  # + 1 per item: a cluster of new items can be an intent
        for cluster, count in zip(clusters, popularity, strict=True):
            mass[cluster] = mass.get(cluster, 0.0) + max(count, 0.0) + 1.0
        lengths = random.Random(0)  # the same item has the same length in every process
        duration_ms = {item: _length_ms(lengths) for item in item_ids}
        ordered = tuple(sorted(mass))
        cum = tuple(itertools.accumulate(mass[c] for c in ordered))
        return cls(dict(zip(item_ids, clusters, strict=True)), duration_ms, ordered, cum)

    @classmethod
    def load(cls, bundle_dir: Path) -> "Catalogue":
        """The catalogue of the bundle the service serves (its manifest is the service's job)."""
        item_ids = [str(i) for i in json.loads((bundle_dir / ITEM_IDS_FILE).read_text())]
        clusters = np.load(bundle_dir / CLUSTERS_FILE).astype(np.int64).tolist()
        popularity = np.load(bundle_dir / POPULARITY_FILE).astype(np.float64).tolist()
        return cls.build(item_ids, clusters, popularity)

    def draw_cluster(self, rng: random.Random) -> int:
        """A cluster, as likely as its share of the catalogue's popularity."""
        return rng.choices(self.clusters, cum_weights=self.cum_weights)[0]


@dataclass(frozen=True, slots=True)
class Engagement:
    """What one swipe reports, in the field names of POST /swipe."""

    watch_ms: int
    duration_ms: int
    liked: bool
    shared: bool


class SimulatedUser:
    """One session's person: reacts to each served item by how well it matches the intent."""

    def __init__(self, catalogue: Catalogue, rng: random.Random) -> None:
        self.catalogue = catalogue
        self.rng = rng
        self.intent = catalogue.draw_cluster(rng)

    def react(self, item_id: str) -> Engagement:
        """The swipe on one item; the intent may drift first. Unknown items are off-intent."""
        rng = self.rng
        if rng.random() < DRIFT_PROB:
            self.intent = self.catalogue.draw_cluster(rng)
        off = int(self.catalogue.cluster_of.get(item_id) != self.intent)  # 0 on, 1 off
        duration_ms = self.catalogue.duration_ms.get(item_id, int(DURATION_MEDIAN_S * 1000))
        if rng.random() < SKIP_PROB[off]:
            return Engagement(rng.randrange(200, SKIP_MS), duration_ms, False, False)
        fraction = rng.betavariate(*WATCH_BETA[off])
        watch_ms = max(SKIP_MS, round(fraction * duration_ms))
        return Engagement(
            watch_ms, duration_ms, rng.random() < LIKE_PROB[off], rng.random() < SHARE_PROB[off]
        )


def _length_ms(rng: random.Random) -> int:
    seconds = rng.lognormvariate(math.log(DURATION_MEDIAN_S), DURATION_SIGMA)
    return int(1000 * min(max(seconds, 5.0), 180.0))


def session_length(rng: random.Random) -> int:
    """Swipes before the person leaves: lognormal (most short, a few very long), capped."""
    drawn = rng.lognormvariate(math.log(SWIPES_MEDIAN), SWIPES_SIGMA)
    return min(max(1, math.ceil(drawn)), MAX_SWIPES)
