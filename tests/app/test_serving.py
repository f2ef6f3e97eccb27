"""ServingSlot: a swap replaces the bundle and its bandit arms whole, and the replaced arms
reach Redis one last time (a real redis-server)."""

import dataclasses
from collections.abc import Awaitable

import numpy as np
import pytest
import redis.asyncio as aioredis

from app.bandit.bundle_arms import BundleArms
from app.catalogue.snapshot import Catalogue
from app.model import ServingModel, load_model
from app.serving import ServingSlot
from tests.conftest import TinyBundle


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_swap_gives_new_arms_and_syncs_the_old_ones_last(
    tiny_bundle: TinyBundle, redis_url: str
) -> None:
    old = load_model(tiny_bundle.path)
    new = dataclasses.replace(old, manifest=dataclasses.replace(old.manifest, version="v2"))
    client = aioredis.Redis.from_url(redis_url)

    def arms_for(model: ServingModel) -> Awaitable[BundleArms]:
        return BundleArms.start(model.version, model.n_arms, client, "t", sync_s=60.0)

    def catalogue_of(model: ServingModel) -> Catalogue:
        return Catalogue.of_bundle(model.version, model.vocab, model.manifest.hidden_size)

    slot = await ServingSlot.open(old, catalogue_of(old), arms_for)
    before = slot.current
    before.arms.record_impressions([1, 1, 2])
    rows = np.arange(len(old.vocab), dtype=np.int64)
    new_catalogue = catalogue_of(new)
    assert await slot.swap(new, new_catalogue, rows) is before
    after = slot.current
    assert after.model is new
    assert after.catalogue is new_catalogue
    assert after.previous is not None
    assert after.previous.version == old.version
    assert after.previous.rows is rows
    assert after.arms is not before.arms
    assert await client.hgetall(f"t:{old.version}:bandit:arms") == {b"i:1": b"2", b"i:2": b"1"}
    after.arms.record_impressions([3])
    await slot.close()
    assert await client.hgetall("t:v2:bandit:arms") == {b"i:3": b"1"}
    await client.aclose()
