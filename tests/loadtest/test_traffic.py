"""The simulated person: clusters drawn by popularity, an intent that drifts, engagement that
follows it, heavy-tailed session lengths; all with seeded generators."""

import json
import random
import statistics
from pathlib import Path

import numpy as np

from loadtest.traffic import (
    MAX_SWIPES,
    SKIP_MS,
    Catalogue,
    Engagement,
    SimulatedUser,
    session_length,
)

# items "0".."5": cluster 0 holds most of the popularity, cluster 2 almost none
ITEM_IDS = ["0", "1", "2", "3", "4", "5"]
CLUSTERS = [0, 0, 1, 1, 2, 2]
POPULARITY = [500.0, 300.0, 60.0, 40.0, 0.0, 0.0]


def catalogue() -> Catalogue:
    return Catalogue.build(ITEM_IDS, CLUSTERS, POPULARITY)


def test_load_reads_the_bundle_files(tmp_path: Path) -> None:
    (tmp_path / "item_ids.json").write_text(json.dumps([17, 4, 99]))
    np.save(tmp_path / "clusters.npy", np.array([1, 0, 1], dtype=np.int32))
    np.save(tmp_path / "popularity.npy", np.array([5, 2, 1], dtype=np.int64))
    loaded = Catalogue.load(tmp_path)
    assert loaded.cluster_of == {"17": 1, "4": 0, "99": 1}
    assert loaded.clusters == (0, 1)
    assert set(loaded.duration_ms) == {"17", "4", "99"}
    assert all(5_000 <= ms <= 180_000 for ms in loaded.duration_ms.values())


def test_item_lengths_are_the_same_in_every_process() -> None:
    assert catalogue().duration_ms == catalogue().duration_ms


def test_intents_follow_cluster_popularity() -> None:
    rng = random.Random(0)
    drawn = [catalogue().draw_cluster(rng) for _ in range(5000)]
    shares = [drawn.count(c) / len(drawn) for c in (0, 1, 2)]
    # masses with +1 smoothing per item: 802, 102, 2 of 906
    assert shares[0] > 0.85
    assert 0.07 < shares[1] < 0.16
    assert shares[2] < 0.01


def test_intent_drifts_now_and_then() -> None:
    rng = random.Random(1)
    # uniform popularity, so that a drift lands on another cluster two times in three
    person = SimulatedUser(Catalogue.build(ITEM_IDS, CLUSTERS, [1.0] * 6), rng)
    intents = []
    for _ in range(3000):
        person.react("0")
        intents.append(person.intent)
    changes = sum(a != b for a, b in zip(intents, intents[1:], strict=False))
    assert 80 < changes < 250  # 3000 swipes * 8% drift * 2/3 changes = 160
    assert set(intents) == {0, 1, 2}


def reactions(on_intent: bool, n: int = 3000) -> list[Engagement]:
    rng = random.Random(2)
    person = SimulatedUser(catalogue(), rng)
    out = []
    for _ in range(n):
        person.intent = 0  # hold it still: drift is tested above
        out.append(person.react("0" if on_intent else "2"))
    return out


def test_matching_items_are_watched_and_liked_others_skipped() -> None:
    on, off = reactions(on_intent=True), reactions(on_intent=False)
    fraction = statistics.mean(e.watch_ms / e.duration_ms for e in on)
    assert fraction > 0.6
    assert statistics.mean(e.watch_ms / e.duration_ms for e in off) < fraction / 2
    assert sum(e.liked for e in on) > 10 * sum(e.liked for e in off)
    skips_on = sum(e.watch_ms < SKIP_MS for e in on)
    skips_off = sum(e.watch_ms < SKIP_MS for e in off)
    assert skips_on < 0.1 * len(on) < 0.7 * len(off) < skips_off


def test_a_skip_carries_no_signal_and_durations_are_the_items() -> None:
    for e in reactions(on_intent=False, n=500):
        assert e.duration_ms == catalogue().duration_ms["2"]
        if e.watch_ms < SKIP_MS:
            assert not e.liked
            assert not e.shared


def test_unknown_items_are_off_intent() -> None:
    person = SimulatedUser(catalogue(), random.Random(3))
    person.intent = 0
    engagements = [person.react("not-in-the-bundle") for _ in range(500)]
    assert sum(e.watch_ms < SKIP_MS for e in engagements) > 300


def test_session_lengths_are_heavy_tailed_and_capped() -> None:
    rng = random.Random(4)
    lengths = [session_length(rng) for _ in range(20_000)]
    assert min(lengths) >= 1
    assert max(lengths) == MAX_SWIPES  # the cap is reached: the tail is long
    assert statistics.median(lengths) < statistics.mean(lengths)
    assert 12 <= statistics.median(lengths) <= 18
