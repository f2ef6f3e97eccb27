"""The feed flow over a catalogue with uploads: the side index's results ranked with the
bundle's, taken-down items dropped from model results and exploration alike. Real ONNX
Runtime and FAISS, the embedded store, no HTTP."""

import asyncio
import dataclasses

import numpy as np
import pytest

from app.bandit.new_item_stats import NewItemStats
from app.bandit.new_item_tier import NewItemTier
from app.bandit.rewards import MemoryArmStats, Posteriors
from app.batching.model_batches import ModelBatches
from app.flows.build_feed import PageMaker, compose_page
from app.model import ServingModel, load_model
from app.retrieval.uploads import UploadIndex
from app.serving import Serving
from app.session.state import Page, SessionState
from app.telemetry import Telemetry
from tests.app.uploads import catalogue_of, takedown, upload
from tests.conftest import TinyBundle


@pytest.fixture(scope="module")
def model(tiny_bundle: TinyBundle) -> ServingModel:
    return load_model(tiny_bundle.path)


def composed(
    state: SessionState,
    number: int,
    count: int,
    serving: Serving,
    posteriors: Posteriors,
    explore_share: float,
    tier: NewItemTier,
    rng: np.random.Generator,
) -> Page:
    """compose_page's page, its search micro-batched as in the service."""

    async def compose() -> Page:
        telemetry = Telemetry()
        batches = ModelBatches(4, 1, telemetry)
        try:
            maker = PageMaker(serving, posteriors, explore_share, tier, rng, batches, telemetry)
            page, _ = await compose_page(maker, state, number, count)
            return page
        finally:
            batches.close()

    return asyncio.run(compose())


def no_tier() -> NewItemTier:
    return NewItemTier(NewItemStats(None, "t", 100), 0.0, 100)


def test_an_upload_close_to_the_state_is_the_model_s_first_item(model: ServingModel) -> None:
    _, catalogue = catalogue_of(model, [upload(model, "near", "t"), upload(model, "far", "u")])
    hidden = model.step.step(model.step.step(None, 4, 1.0), 9, 1.0)
    best_score = float(model.retriever.search(hidden, 1)[0][0])
    # "near" scores twice the bundle's best for this state, "far" below everything
    near = np.append(hidden, 0.0) * (2 * best_score / float(hidden @ hidden))
    far = np.append(-hidden, -1e3)
    vectors = np.stack([near, far]).astype(np.float32)
    catalogue = dataclasses.replace(catalogue, uploads=UploadIndex(vectors, len(model.vocab)))
    serving = Serving(model, MemoryArmStats(model.n_arms), catalogue)
    state = SessionState(model_version=model.version, hidden=hidden)
    page = composed(
        state,
        0,
        10,
        serving,
        MemoryArmStats(model.n_arms).posteriors(),
        0.0,
        no_tier(),
        np.random.default_rng(0),
    )
    assert page.items[0] == catalogue.row("near")
    assert page.scores[0] == pytest.approx(2 * best_score, rel=1e-4)
    assert page.explore[0] is False
    assert catalogue.row("far") not in page.items


@pytest.mark.parametrize("hidden_steps", [0, 3])
def test_taken_down_items_appear_nowhere_on_a_page(model: ServingModel, hidden_steps: int) -> None:
    """Cold start and personalised, model slots and exploration slots: 10 pages of 30."""
    hidden = None
    for row in range(hidden_steps):
        hidden = model.step.step(hidden, row, 1.0)
    popular = model.retriever.popular(20).tolist()
    removed_ids = model.vocab.ids_of(np.array(popular[::2], dtype=np.int64))
    _, catalogue = catalogue_of(model, [takedown(item_id) for item_id in removed_ids])
    assert len(catalogue.removed) == 10
    serving = Serving(model, MemoryArmStats(model.n_arms), catalogue)
    tier = NewItemTier(NewItemStats(None, "t", 100), 0.5, 100)
    rng = np.random.default_rng(1)
    for number in range(10):
        state = SessionState(model_version=model.version, hidden=hidden)
        page = composed(
            state,
            number,
            30,
            serving,
            MemoryArmStats(model.n_arms).posteriors(),
            0.5,
            tier,
            rng,
        )
        assert len(page.items) == 30
        assert any(page.explore)
        assert not catalogue.removed & set(page.items)
