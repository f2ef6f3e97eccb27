"""The new-item tier and its counts: unseen uploads first, engagement promoted, taken-down and
graduated ones never; counts shared by two replicas through a real Redis."""

from collections import Counter

import numpy as np
import pytest

from app.bandit.new_item_stats import READ_BACK_ITEMS, NewItemStats
from app.bandit.new_item_tier import HEAD_PER_SLOT, NewItemTier, _best_first, _thompson_draws
from app.catalogue.snapshot import Catalogue
from app.errors import StateStoreUnavailable
from app.redis_client import create_redis
from loadtest import tier_bench
from loadtest.servers import free_port

N_BUNDLE = 10


def uploads_catalogue(n_uploads: int, removed: frozenset[int] = frozenset()) -> Catalogue:
    """Rows 10.. are uploads 0.., ordinals as rows."""
    return tier_bench.uploads_catalogue(N_BUNDLE, n_uploads, removed)


def tier_of(catalogue: Catalogue, graduate_at: int = 100) -> NewItemTier:
    stats = NewItemStats(None, "t", graduate_at)
    stats.track(catalogue.upload_ids)
    return NewItemTier(stats, 0.5, graduate_at)


def test_slots_are_the_share_rounded_half_up_at_least_one() -> None:
    tier = tier_of(uploads_catalogue(0))
    assert [tier.slots(n) for n in (0, 1, 2, 3, 4)] == [0, 1, 1, 2, 2]
    assert NewItemTier(NewItemStats(None, "t", 1), 0.0, 1).slots(4) == 0


def test_every_upload_is_shown_before_any_is_shown_twice() -> None:
    catalogue = uploads_catalogue(30)
    tier = tier_of(catalogue)
    rng = np.random.default_rng(1)
    shown: list[int] = []
    for _ in range(15):  # 15 pages of 2 tier slots
        chosen = tier.choose(2, catalogue, set(), rng)
        rows = tuple(row for row, _ in chosen)
        tier.record_impressions(catalogue, rows)
        shown += rows
    assert sorted(shown) == list(range(N_BUNDLE, N_BUNDLE + 30))


def test_taken_down_taken_and_graduated_uploads_are_never_chosen() -> None:
    catalogue = uploads_catalogue(6, removed=frozenset({N_BUNDLE}))
    tier = tier_of(catalogue, graduate_at=3)
    tier.stats.record_impressions([1, 1, 1])  # u1 graduates
    rng = np.random.default_rng(0)
    for _ in range(50):
        rows = {row for row, _ in tier.choose(6, catalogue, {N_BUNDLE + 2}, rng)}
        assert rows == {N_BUNDLE + 3, N_BUNDLE + 4, N_BUNDLE + 5}


def test_engaging_uploads_are_promoted() -> None:
    catalogue = uploads_catalogue(2)
    tier = tier_of(catalogue)
    tier.stats.record_impressions([0] * 10 + [1] * 10)
    for _ in range(8):
        tier.record_reward(catalogue, N_BUNDLE, 1.0)  # u0 is watched through, u1 skipped
    rng = np.random.default_rng(3)
    firsts = Counter(tier.choose(1, catalogue, set(), rng)[0][0] for _ in range(200))
    assert firsts[N_BUNDLE] > 3 * firsts[N_BUNDLE + 1]
    scores = dict(tier.choose(2, catalogue, set(), rng))
    assert scores[N_BUNDLE] == pytest.approx(9 / 12)  # Beta(1 + 8, 1 + 10 - 8): its mean
    assert scores[N_BUNDLE + 1] == pytest.approx(1 / 12)


def test_a_page_that_holds_the_best_uploads_gets_the_next_ones() -> None:
    catalogue = uploads_catalogue(100)
    tier = tier_of(catalogue)
    tier.stats.record_impressions(list(range(50, 100)))  # 50 uploads seen once, 50 not
    taken = set(range(N_BUNDLE, N_BUNDLE + 49))  # all but one unseen upload already on the page
    rows = [row for row, _ in tier.choose(2, catalogue, taken, np.random.default_rng(0))]
    assert len(taken) > HEAD_PER_SLOT * 2  # the head of the partial sort is used up
    assert rows[0] == N_BUNDLE + 49  # the last unseen one first, then one seen once
    assert N_BUNDLE + 50 <= rows[1] < N_BUNDLE + 100


@pytest.mark.parametrize("head", [0, 1, 5, 40, 41, 100])
def test_best_first_is_the_stable_descending_sort(head: int) -> None:
    priority = np.random.default_rng(head).integers(0, 6, 40).astype(np.float64)  # many ties
    expected = np.argsort(-priority, kind="stable").tolist()
    assert list(_best_first(priority, head)) == expected


def test_thompson_draws_follow_each_posterior() -> None:
    alpha = np.array([1.0, 1.0, 9.0, 1.0] * 20_000)
    beta = np.array([1.0, 3.0, 3.0, 1.0] * 20_000)
    draws = _thompson_draws(alpha, beta, np.random.default_rng(0)).reshape(-1, 4)
    assert ((draws >= 0.0) & (draws <= 1.0)).all()
    np.testing.assert_allclose(draws.mean(axis=0), [0.5, 0.25, 0.75, 0.5], atol=0.01)
    np.testing.assert_allclose(draws[:, 0].var(), 1 / 12, atol=0.002)  # uniform's variance


def test_without_uploads_in_the_tier_no_random_number_is_drawn() -> None:
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    for catalogue in (uploads_catalogue(0), uploads_catalogue(2, frozenset({10, 11}))):
        assert tier_of(catalogue).choose(2, catalogue, set(), rng) == []
    assert rng.bit_generator.state == before


def test_impressions_of_bundle_items_are_not_counted() -> None:
    catalogue = uploads_catalogue(2)
    tier = tier_of(catalogue)
    assert tier.record_impressions(catalogue, (3, N_BUNDLE + 1, N_BUNDLE + 1)) == 2
    assert tier.impressions(catalogue, N_BUNDLE + 1) == 2
    assert tier.impressions(catalogue, 3) is None
    assert catalogue.ordinal(N_BUNDLE + 5) is None  # beyond: written by a replica further on


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_two_replicas_share_counts_through_redis(server_url: str) -> None:
    clients = [create_redis(server_url, 1.0, 1.0, 4) for _ in range(2)]
    first, second = (NewItemStats(client, "t", graduate_at=5) for client in clients)
    for stats in (first, second):
        stats.track(["u0", "u1"])
    first.record_impressions([0, 0, 1])
    first.record_reward(0, 0.5)
    second.record_impressions([0])
    await first.sync()
    await second.sync()
    impressions, rewards = second.counts(np.array([0, 1], dtype=np.int64))
    assert (impressions.tolist(), rewards.tolist()) == ([3.0, 1.0], [0.5, 0.0])
    await first.sync()  # reads what the second added
    assert first.counts(np.array([0], dtype=np.int64))[0].tolist() == [3.0]
    second.record_impressions([0, 0])  # u0 graduates: 5
    await second.sync()
    await first.sync()
    second.record_impressions([0])
    await second.sync()
    await first.sync()  # graduated: no longer read back
    assert first.counts(np.array([0], dtype=np.int64))[0].tolist() == [5.0]
    for client in clients:
        await client.aclose()


@pytest.mark.anyio
async def test_a_replica_reads_back_the_others_counts_in_turns(server_url: str) -> None:
    """Beyond READ_BACK_ITEMS young items a sync reads a turn of them (besides those it counted
    itself): every count reaches the other replica within n / READ_BACK_ITEMS syncs. Ids of
    any characters travel as they are."""
    n = 2 * READ_BACK_ITEMS + 7
    ids = [f"u{i} \n%\u00e9" for i in range(n)]
    clients = [create_redis(server_url, 1.0, 1.0, 4) for _ in range(2)]
    shower, reader = (NewItemStats(client, "turns", graduate_at=50) for client in clients)
    for stats in (shower, reader):
        stats.track(ids)
    shower.record_impressions(list(range(n)))
    shower.record_reward(n - 1, 0.25)
    await shower.sync()
    everyone = np.arange(n, dtype=np.int64)
    await reader.sync()
    seen = int((reader.counts(everyone)[0] > 0).sum())
    assert seen == READ_BACK_ITEMS  # one turn, not all
    for _ in range(2):
        await reader.sync()
    impressions, rewards = reader.counts(everyone)
    assert impressions.tolist() == [1.0] * n
    assert rewards[-1] == 0.25
    reader.record_impressions([0])  # counted here: read back at once, with the other's count
    await reader.sync()
    assert reader.counts(np.array([0], dtype=np.int64))[0].tolist() == [2.0]
    for client in clients:
        await client.aclose()


@pytest.mark.anyio
async def test_counts_that_fail_to_sync_are_kept() -> None:
    client = create_redis(f"redis://127.0.0.1:{free_port()}/0", 0.1, 0.1, 2)
    stats = NewItemStats(client, "t", graduate_at=5)
    stats.track(["u0"])
    stats.record_impressions([0, 0])
    with pytest.raises(StateStoreUnavailable):
        await stats.sync()
    assert stats.counts(np.array([0], dtype=np.int64))[0].tolist() == [2.0]
    await client.aclose()
