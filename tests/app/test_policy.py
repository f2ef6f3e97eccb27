"""Thompson sampling over clusters: the slot rules by hand, and learning in a simulation."""

import numpy as np
import numpy.typing as npt
import pytest

from app.bandit.policy import ThompsonPolicy
from app.bandit.rewards import MemoryArmStats, Posteriors

# arm 0: items 0-3, arm 1: items 4-5, arm 2: item 6, arm 3: no items, arm 4: items 7-9
CLUSTERS = np.array([0, 0, 0, 0, 1, 1, 2, 4, 4, 4], dtype=np.int32)
POPULARITY = np.array([5, 0, 9, 2, 4, 4, 1, 0, 0, 7], dtype=np.int64)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def policy(alpha: float = 0.5) -> ThompsonPolicy:
    return ThompsonPolicy(CLUSTERS, POPULARITY, alpha)


def certain(order: list[int], n_arms: int = 5) -> Posteriors:
    """Posteriors so sharp that the sampled rates rank the arms exactly in `order`."""
    alpha = np.ones(n_arms, dtype=np.float64)
    beta = np.ones(n_arms, dtype=np.float64)
    for place, arm in enumerate(order):
        rate = 0.9 - 0.15 * place
        alpha[arm], beta[arm] = 1e7 * rate, 1e7 * (1 - rate)
    return alpha, beta


def arms_of(chosen: list[tuple[int, int]]) -> list[int]:
    return [arm for _, arm in chosen]


def test_each_item_comes_from_its_arm_and_slots_take_arms_in_sampled_order() -> None:
    chosen = policy().choose(3, certain([4, 0, 1, 2, 3]), set(), set(), np.random.default_rng(0))
    assert arms_of(chosen) == [4, 0, 1]
    assert all(CLUSTERS[item] == arm for item, arm in chosen)


def test_avoided_arms_are_skipped_unless_every_arm_is_avoided() -> None:
    rng = np.random.default_rng(0)
    posteriors = certain([4, 0, 1, 2, 3])
    assert arms_of(policy().choose(2, posteriors, {4, 0}, set(), rng)) == [1, 2]
    assert arms_of(policy().choose(2, posteriors, {0, 1, 2, 3, 4}, set(), rng)) == [4, 0]


def test_arms_repeat_only_when_there_are_fewer_arms_than_slots() -> None:
    # four arms have items; arm 3 is empty and skipped
    chosen = policy().choose(7, certain([2, 1, 0, 3, 4]), set(), set(), np.random.default_rng(1))
    assert arms_of(chosen) == [2, 1, 0, 4, 1, 0, 4]
    assert len({item for item, _ in chosen}) == 7


def test_excluded_items_are_never_chosen_and_exhausted_arms_are_skipped() -> None:
    excluded = {0, 1, 2, 6, 9}  # arm 2 has nothing left, arm 0 only item 3
    for seed in range(20):
        chosen = policy().choose(
            10, certain([2, 0, 4, 1, 3]), set(), excluded, np.random.default_rng(seed)
        )
        items = [item for item, _ in chosen]
        assert sorted(items) == [3, 4, 5, 7, 8]  # every eligible item once, then it stops
        assert arms_of(chosen)[:3] == [0, 4, 1]


def test_items_are_drawn_by_popularity_to_the_power_alpha() -> None:
    rng = np.random.default_rng(5)
    posteriors = certain([4, 0, 1, 2, 3])
    draws = [policy(1.0).choose(1, posteriors, set(), set(), rng)[0][0] for _ in range(3000)]
    # arm 4 weights (0 + 1, 0 + 1, 7 + 1) = 1 : 1 : 8
    shares = np.bincount(draws, minlength=10)[7:] / 3000
    np.testing.assert_allclose(shares, [0.1, 0.1, 0.8], atol=0.03)
    uniform = [policy(0.0).choose(1, posteriors, set(), set(), rng)[0][0] for _ in range(3000)]
    np.testing.assert_allclose(np.bincount(uniform, minlength=10)[7:] / 3000, 1 / 3, atol=0.03)


def test_posteriors_of_another_arm_count_are_refused() -> None:
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        policy().choose(1, certain([0], n_arms=4), set(), set(), np.random.default_rng(0))


@pytest.mark.parametrize(
    ("rows", "share", "expected"),
    [
        ([0, 1, 2, 4, 7, 8], 0.5, {0}),  # arm 0 holds 3 of 6
        ([0, 1, 2, 4, 7, 8], 0.6, {0, 4}),  # 3 + 2 of 6
        ([0, 4, 6, 7], 0.5, {0, 1}),  # four arms of one item each: ties go by arm id
        ([0, 4, 6, 7], 1.0, {0, 1, 2, 4}),
        ([0, 1, 2], 0.5, {0}),
        ([], 0.5, set()),
        ([0, 4], 0.0, set()),
    ],
)
def test_dominant_arms(rows: list[int], share: float, expected: set[int]) -> None:
    assert policy().dominant_arms(np.array(rows, dtype=np.int64), share) == expected


REWARD_RATES = np.array([0.8, 0.2, 0.1, 0.1, 0.1, 0.1])  # arm A = 0, arm B = 1


@pytest.mark.anyio
async def test_thompson_sampling_learns_the_best_arm() -> None:
    n_arms, items_per_arm = 6, 120
    clusters: npt.NDArray[np.int32] = np.repeat(np.arange(n_arms), items_per_arm).astype(np.int32)
    popularity = np.random.default_rng(1).integers(0, 50, clusters.size)
    bandit = ThompsonPolicy(clusters, popularity, 0.5)
    stats = MemoryArmStats(n_arms)
    rng, environment = np.random.default_rng(2), np.random.default_rng(3)
    rounds_with_arm = np.zeros((400, n_arms), dtype=np.int64)
    seen: set[int] = set()
    for round_number in range(400):
        if round_number % 40 == 0:
            seen = set()  # a new session of 40 pages, one exploration slot each
        chosen = bandit.choose(1, stats.posteriors(), set(), seen, rng)
        assert len(chosen) == 1
        assert not seen & {item for item, _ in chosen}  # never an item the session has seen
        stats.record_impressions(arms_of(chosen))
        for item, arm in chosen:
            seen.add(item)
            rounds_with_arm[round_number, arm] += 1
            if environment.random() < REWARD_RATES[arm]:
                stats.record_reward(arm, 1.0)
    first, last = rounds_with_arm[:100].sum(axis=0), rounds_with_arm[-100:].sum(axis=0)
    assert last[0] > first[0]
    assert last[0] > last[1:].max()
    assert last[0] >= 90  # once it is known, nearly every slot goes to the best arm
