"""The negative sampler: draw frequencies, zero-count items and the cache refresh."""

import numpy as np
import numpy.typing as npt

from models.negatives import NegativeSampler

# item 0 and item 6 never occur; counts are squares so that alpha = 0.5 gives round weights
COUNTS = np.array([0, 1, 4, 9, 16, 100, 0, 25], dtype=np.int64)
N_DRAWS = 200_000


def draw_counts(sampler: NegativeSampler, n_calls: int) -> npt.NDArray[np.int64]:
    drawn = np.concatenate([sampler.sample() for _ in range(n_calls)])
    assert drawn.dtype == np.int64
    return np.bincount(drawn, minlength=len(COUNTS)).astype(np.int64)


def chi_square(observed: npt.NDArray[np.int64], probabilities: list[float]) -> float:
    """Pearson's statistic over the items with a positive expected count."""
    expected = np.array(probabilities) * observed.sum()
    positive = expected > 0
    assert observed[~positive].sum() == 0, "an item with probability 0 was drawn"
    return float((((observed - expected) ** 2)[positive] / expected[positive]).sum())


# the 0.999 quantile of chi-square with 5 degrees of freedom (6 items can be drawn)
CHI2_5_999 = 20.515


def test_frequencies_follow_popularity_to_the_alpha() -> None:
    sampler = NegativeSampler(COUNTS, 1000, 0.5, np.random.default_rng(1), cache_batches=50)
    # sqrt of the counts: 0 1 2 3 4 10 0 5, sum 25
    expected = [0, 1 / 25, 2 / 25, 3 / 25, 4 / 25, 10 / 25, 0, 5 / 25]
    np.testing.assert_allclose(sampler.probabilities, expected, rtol=1e-12)
    observed = draw_counts(sampler, N_DRAWS // 1000)
    assert observed.sum() == N_DRAWS
    assert observed[0] == 0
    assert observed[6] == 0
    assert chi_square(observed, expected) < CHI2_5_999
    # the statistic can tell a wrong exponent apart: plain popularity is far off
    popularity = (COUNTS / COUNTS.sum()).tolist()
    assert chi_square(observed, popularity) > 100 * CHI2_5_999
    relative = np.abs(observed / N_DRAWS - expected)[np.array(expected) > 0] / np.array(
        [p for p in expected if p > 0]
    )
    assert relative.max() < 0.05


def test_alpha_one_is_popularity() -> None:
    sampler = NegativeSampler(COUNTS, 500, 1.0, np.random.default_rng(2), cache_batches=40)
    expected = (COUNTS / COUNTS.sum()).tolist()  # 0 1 4 9 16 100 0 25 over 155
    np.testing.assert_allclose(sampler.probabilities, expected, rtol=1e-12)
    observed = draw_counts(sampler, N_DRAWS // 500)
    assert chi_square(observed, expected) < CHI2_5_999


def test_alpha_zero_is_uniform_over_seen_items() -> None:
    sampler = NegativeSampler(COUNTS, 1000, 0.0, np.random.default_rng(3), cache_batches=200)
    expected = [0, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0, 1 / 6]  # 0 ** 0 is 1: masked
    np.testing.assert_allclose(sampler.probabilities, expected, rtol=1e-12)
    observed = draw_counts(sampler, N_DRAWS // 1000)
    assert observed[0] == 0
    assert observed[6] == 0
    assert chi_square(observed, expected) < CHI2_5_999


def test_unseen_items_at_both_ends_are_never_drawn() -> None:
    counts = np.array([0, 0, 3, 0, 1, 0, 0], dtype=np.int64)
    sampler = NegativeSampler(counts, 1000, 0.3, np.random.default_rng(4), cache_batches=100)
    drawn = np.concatenate([sampler.sample() for _ in range(100)])
    assert set(np.unique(drawn).tolist()) == {2, 4}


def test_cache_is_refreshed_after_cache_batches_calls() -> None:
    n_sample, cache_batches = 6, 3
    rng = np.random.default_rng(7)
    reference = np.random.default_rng(7)
    sampler = NegativeSampler(COUNTS, n_sample, 0.5, rng, cache_batches)
    cumulative = np.cumsum(sampler.probabilities)

    def expected_cache() -> npt.NDArray[np.int64]:
        uniform = reference.random(cache_batches * n_sample)
        rows = np.searchsorted(cumulative, uniform, side="right")
        return rows.astype(np.int64).reshape(cache_batches, n_sample)

    first = expected_cache()
    state_after_first = reference.bit_generator.state
    for call in range(cache_batches):
        batch = sampler.sample()
        assert batch.shape == (n_sample,)
        np.testing.assert_array_equal(batch, first[call])
        # the generator is only used when the cache is filled
        assert rng.bit_generator.state == state_after_first
    second = expected_cache()
    refreshed = sampler.sample()
    assert rng.bit_generator.state == reference.bit_generator.state
    np.testing.assert_array_equal(refreshed, second[0])
    assert not np.array_equal(second, first)
    # the three batches of a cache differ from each other too
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[1], first[2])


def test_no_samples() -> None:
    sampler = NegativeSampler(COUNTS, 0, 0.5, np.random.default_rng(0), cache_batches=2)
    for _ in range(3):
        assert sampler.sample().shape == (0,)
