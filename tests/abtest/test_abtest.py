"""The A/B harness end to end on the tiny bundle: two variants through the real app, the same
people in both, health from each variant's own log."""

import json
import math
import random
from pathlib import Path

from abtest.person import MAX_SWIPES, Person
from abtest.run import main
from loadtest.traffic import Catalogue
from tests.conftest import TinyBundle


def test_a_person_always_leaves_by_the_cap(tiny_bundle: TinyBundle) -> None:
    catalogue = Catalogue.load(tiny_bundle.path)
    item = next(iter(catalogue.cluster_of))
    for seed in range(20):
        person = Person(catalogue, random.Random(seed))
        while not person.left:
            person.react(item)
        assert 1 <= person.swipes <= MAX_SWIPES


def test_two_variants_serve_the_same_people_and_are_judged_from_their_logs(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    variants = "explore 0,popularity feed"
    argv = ["--bundle", str(tiny_bundle.path), "--sessions", "8", "--uploads", "5"]
    report = main([*argv, "--variants", variants, "--out", str(tmp_path)])
    results = report["results"]
    assert list(results) == ["explore 0", "popularity feed"]
    for row in results.values():
        assert row["swipes"]["n"] == 8  # every session swiped at least once
        assert row["swipes"]["mean"] >= 1
        assert 0.0 <= row["skip_ratio"]["mean"] <= 1.0
    # no exploration slot at share 0: no explore impression, so no reward rate at all
    assert results["explore 0"]["explore_reward_rate"]["n"] == 0
    assert math.isnan(results["explore 0"]["explore_reward_rate"]["mean"])
    assert results["popularity feed"]["explore_reward_rate"]["n"] > 0
    assert "wins" in report["verdict"] or "no winner" in report["verdict"]
    written = json.loads((tmp_path / "abtest.json").read_text())
    assert written["verdict"] == report["verdict"]
    assert (tmp_path / "abtest.png").stat().st_size > 10_000
