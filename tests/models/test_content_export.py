"""The content part of the export: transitions counted by hand, and a bundle with content-only
items whose rows are exactly what the service computes for an upload of the same title."""

import json
from pathlib import Path

import faiss
import numpy as np
import pytest
import torch

from app.bundle import INDEX_FILE, ITEM_IDS_FILE, POPULARITY_FILE, verify_bundle
from app.model import load_model
from models.config import TrainConfig
from models.content_export import transitions
from models.export import export
from models.prepare import item_titles
from models.sessions import Sessions
from models.train import model_from_checkpoint
from tests.conftest import TinyBundle

UPLOADS = {"1": "a trained item keeps its row", "up-1": "", "up-2": ""}


@pytest.fixture(scope="module")
def uploads(tiny_bundle: TinyBundle) -> dict[str, str]:
    """Two content-only items: one titled like trained item 5, one without a title."""
    titles = item_titles(TrainConfig(**tiny_bundle.checkpoint["config"]))
    return {**UPLOADS, "up-1": titles["5"]}


@pytest.fixture(scope="module")
def bundle_with_uploads(
    tiny_bundle: TinyBundle, uploads: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("bundles") / "uploads"
    export(tiny_bundle.checkpoint, path, version="uploads", n_clusters=8, content_items=uploads)
    return path


@torch.no_grad()
def test_transitions_are_each_state_and_the_item_after_it(tiny_bundle: TinyBundle) -> None:
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    sessions = Sessions.from_lists([[3, 4, 5], [7], [8, 9]], [[1.0, 0.5, 1.0], [1.0], [0.2, 1.0]])
    states, next_rows = transitions(model, sessions, n_states=100, seed=0)
    assert sorted(next_rows.tolist()) == [4, 5, 9]  # a one-event session has no transition
    hidden = torch.zeros(1, model.hidden_size)
    expected = {}
    for item, weight, after in ((3, 1.0, 4), (4, 0.5, 5)):
        hidden = model.step(torch.tensor([item]), torch.tensor([weight]), hidden)
        expected[after] = hidden.numpy()[0]
    first = model.step(torch.tensor([8]), torch.tensor([0.2]), torch.zeros(1, model.hidden_size))
    expected[9] = first.numpy()[0]
    for state, after in zip(states, next_rows.tolist(), strict=True):
        np.testing.assert_allclose(state, expected[after], atol=1e-6)
    capped, capped_rows = transitions(model, sessions, n_states=2, seed=0)
    assert capped.shape == (2, model.hidden_size)
    assert capped_rows.shape == (2,)


def test_content_only_items_are_appended_with_popularity_zero(
    tiny_bundle: TinyBundle, bundle_with_uploads: Path
) -> None:
    manifest = verify_bundle(bundle_with_uploads)
    trained = len(tiny_bundle.checkpoint["item_ids"])
    item_ids = json.loads((bundle_with_uploads / ITEM_IDS_FILE).read_text())
    assert item_ids == [*tiny_bundle.checkpoint["item_ids"], "up-1", "up-2"]
    assert manifest.n_items == trained + 2
    assert manifest.content["n_content_only"] == 2
    popularity = np.load(bundle_with_uploads / POPULARITY_FILE)
    assert popularity[trained:].tolist() == [0, 0]
    assert np.array_equal(popularity[:trained], tiny_bundle.data.item_counts)


def test_rows_are_what_the_service_computes_for_an_upload(
    tiny_bundle: TinyBundle, uploads: dict[str, str], bundle_with_uploads: Path
) -> None:
    served = load_model(bundle_with_uploads)
    trained = len(tiny_bundle.checkpoint["item_ids"])
    projected = served.projection.project(served.encoder.encode([uploads["up-1"], ""]))
    index = faiss.read_index(str(bundle_with_uploads / INDEX_FILE))
    rows = np.stack([index.reconstruct(trained + i) for i in range(2)])
    np.testing.assert_allclose(rows, projected, atol=1e-5)
    # a trained item keeps its trained row, whatever the uploads file says about it
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    row_1 = served.vocab.row("1")
    assert row_1 is not None
    np.testing.assert_allclose(
        index.reconstruct(row_1)[:-1], model.item_embedding.weight[row_1].detach().numpy()
    )
    # the row step on an appended item is the vector step on its projected embedding
    hidden = served.step.step(None, 4, 1.0)
    by_row = served.step.step(hidden, trained, 0.8)
    by_vector = served.step.step_vector(hidden, projected[0, :-1], 0.8)
    np.testing.assert_allclose(by_row, by_vector, atol=1e-5)
