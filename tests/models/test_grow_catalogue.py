"""Growing a trained checkpoint: trained items untouched, new ones cold and near a parent."""

import faiss
import numpy as np
import numpy.typing as npt
import pytest
import torch

from app.model import load_model
from models.grow_catalogue import grow_checkpoint, neighbourhood_radius, new_item_ids
from models.item_index import folded_item_vectors
from models.train import Checkpoint, model_from_checkpoint
from tests.conftest import TinyBundle
from tests.models.conftest import GROWN_ITEMS, GrownBundle

TRAINED = 300  # items of the tiny checkpoint


def folded(checkpoint: Checkpoint) -> npt.NDArray[np.float32]:
    weights = checkpoint["model"]
    return folded_item_vectors(
        weights["item_embedding.weight"].numpy(), weights["item_bias.weight"].numpy()[:, 0]
    )


def test_trained_items_and_the_gru_are_unchanged(
    tiny_bundle: TinyBundle, grown_bundle: GrownBundle
) -> None:
    base, grown = tiny_bundle.checkpoint, grown_bundle.growth.checkpoint
    assert grown["item_ids"][:TRAINED] == base["item_ids"]
    assert torch.equal(grown["item_counts"][:TRAINED], base["item_counts"])
    for name, value in base["model"].items():
        rows = grown["model"][name][: len(value)]  # the item tables grew, the GRU did not
        assert torch.equal(rows, value), name


def test_the_catalogue_has_exactly_the_asked_size(grown_bundle: GrownBundle) -> None:
    grown = grown_bundle.growth.checkpoint
    assert model_from_checkpoint(grown).n_items == GROWN_ITEMS
    assert len(grown["item_ids"]) == len(set(grown["item_ids"])) == GROWN_ITEMS
    assert grown["item_ids"][TRAINED] == "x0000000"
    assert grown["item_counts"].shape == (GROWN_ITEMS,)
    assert int(grown["item_counts"][TRAINED:].abs().sum()) == 0  # new items are cold
    assert grown["dataset"]["trained_items"] == TRAINED
    assert load_model(grown_bundle.path).retriever.n_items == GROWN_ITEMS


def test_new_items_lie_near_their_parents(grown_bundle: GrownBundle) -> None:
    vectors = folded(grown_bundle.growth.checkpoint)
    trained, new = vectors[:TRAINED], vectors[TRAINED:]
    parents = grown_bundle.growth.parents
    assert parents.shape == (GROWN_ITEMS - TRAINED,)
    index = faiss.IndexFlatL2(trained.shape[1])
    index.add(trained)
    _, nearest = index.search(new, 1)
    assert np.mean(nearest[:, 0] == parents) >= 0.95  # clustered around trained items
    distance = np.linalg.norm(new - trained[parents], axis=1)
    ratio = distance / neighbourhood_radius(trained, 10)[parents]
    assert 0.4 <= np.median(ratio) <= 0.6  # noise_scale 0.5 of the neighbourhood radius


def test_growth_is_reproducible(tiny_bundle: TinyBundle, grown_bundle: GrownBundle) -> None:
    again = grow_checkpoint(tiny_bundle.checkpoint, GROWN_ITEMS, seed=3)
    np.testing.assert_array_equal(folded(again.checkpoint), folded(grown_bundle.growth.checkpoint))


def test_shrinking_is_refused(tiny_bundle: TinyBundle) -> None:
    with pytest.raises(ValueError, match="already holds 300 > 200 items"):
        grow_checkpoint(tiny_bundle.checkpoint, 200)


def test_new_ids_never_collide_with_trained_ones() -> None:
    assert new_item_ids(["1", "2"], 2) == ["x0000000", "x0000001"]
    with pytest.raises(ValueError, match="already uses ids"):
        new_item_ids(["x0000001"], 5)
