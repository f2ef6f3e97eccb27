"""The exported bundle against the PyTorch model it came from, over whole held-out sessions."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from app.bundle import (
    CLUSTERS_FILE,
    ITEM_IDS_FILE,
    POPULARITY_FILE,
    STEP_FILE,
    STEP_INPUTS,
    STEP_OUTPUT,
    verify_bundle,
)
from loadtest.servers import mapped_paths
from models.export import check_parity
from models.onnx_step import EXTERNAL_FROM_BYTES, export_step
from models.train import model_from_checkpoint
from tests.conftest import TinyBundle


def test_onnx_states_and_faiss_top20_match_pytorch(tiny_bundle: TinyBundle) -> None:
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    sessions = tiny_bundle.data.held_out.sessions
    parity = check_parity(model, tiny_bundle.path, sessions, top_k=20)
    assert parity.steps == sessions.n_events
    assert parity.max_abs_hidden_diff <= 1e-5
    # the vector step fed each item's own trained embedding is the row step
    assert parity.max_abs_vector_step_diff <= 1e-6
    assert parity.same_top_k_sets == 1.0
    assert parity.same_top_k_order >= 0.99  # only exact float ties may swap neighbours


def test_weights_reach_the_graph(tiny_bundle: TinyBundle) -> None:
    """Held-out sessions of the generated log carry engagement weights below 1."""
    weights = tiny_bundle.data.held_out.sessions.weights
    assert weights.min() < 0.5 < weights.max()


def test_manifest_describes_the_files(tiny_bundle: TinyBundle) -> None:
    manifest = verify_bundle(tiny_bundle.path)
    item_ids = json.loads((tiny_bundle.path / ITEM_IDS_FILE).read_text())
    assert manifest.n_items == len(item_ids) == len(tiny_bundle.data.vocab)
    assert item_ids == list(tiny_bundle.data.vocab.item_ids)
    assert manifest.index["dim"] == manifest.hidden_size + 1
    popularity = np.load(tiny_bundle.path / POPULARITY_FILE)
    assert np.array_equal(popularity, tiny_bundle.data.item_counts)
    clusters = np.load(tiny_bundle.path / CLUSTERS_FILE)
    assert clusters.shape == (manifest.n_items,)
    assert clusters.max() + 1 == manifest.n_clusters
    assert manifest.version == "tiny-test"
    assert manifest.model["hidden_size"] == manifest.hidden_size


def test_manifest_describes_the_content(tiny_bundle: TinyBundle) -> None:
    manifest = verify_bundle(tiny_bundle.path)
    assert manifest.content["encoder"] == {
        "kind": "hashing",
        "name": "hashing-1024",
        "dim": 1024,
        "ngrams": 2,
    }
    projection = manifest.content["projection"]
    assert projection["kind"] in ("ridge", "mlp", "neighbours")
    assert projection["content_dim"] == 1024
    assert projection["item_dim"] == manifest.hidden_size + 1
    assert projection["fitted_items"] == projection["titled_items"] == manifest.n_items
    assert projection["states"]["sessions"] == "training (final)"
    assert projection["states"]["n_states"] > 1000
    assert manifest.content["n_content_only"] == 0
    assert manifest.extra["parity"]["projection_max_abs_diff"] <= 1e-4


def test_the_step_holds_input_gates_where_they_fit_and_both_forms_agree(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    """The tiny bundle's step gathers precomputed input gates; one over the size limit keeps
    the embedding table; both forms step the same states (the same arithmetic, reordered)."""
    assert verify_bundle(tiny_bundle.path).extra["step_input_gates"] is True
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    assert export_step(model, tmp_path / "plain.onnx", gates_max_bytes=0) is False
    paths = {"gates": tiny_bundle.path / STEP_FILE, "plain": tmp_path / "plain.onnx"}
    table_sizes = {
        name: [int(np.prod(t.dims)) for t in onnx.load(path).graph.initializer]
        for name, path in paths.items()
    }
    table = model.n_items * model.hidden_size
    assert 3 * table in table_sizes["gates"]
    assert table not in table_sizes["gates"]
    assert table in table_sizes["plain"]
    rng = np.random.default_rng(0)
    feeds = dict(
        zip(
            STEP_INPUTS,
            (
                rng.integers(0, model.n_items, 64),
                rng.uniform(0, 1, 64).astype(np.float32),
                rng.standard_normal((64, model.hidden_size)).astype(np.float32),
            ),
            strict=True,
        )
    )
    gates, plain = (ort.InferenceSession(str(path)) for path in paths.values())
    by_gates = gates.run([STEP_OUTPUT], feeds)[0]
    by_plain = plain.run([STEP_OUTPUT], feeds)[0]
    assert np.abs(by_gates - by_plain).max() <= 1e-5
    assert np.abs(by_gates - feeds[STEP_INPUTS[2]]).max() > 0.01  # the state moved


def test_a_large_item_table_lies_beside_the_graph_and_is_mapped(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    """Past EXTERNAL_FROM_BYTES the table goes to gru_step.onnx.data, which ONNX Runtime maps
    (its pages shared by every worker process) and steps on exactly as on an inline one."""
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    model.grow(EXTERNAL_FROM_BYTES // (4 * 3 * model.hidden_size) + 1)  # gates just past it
    path = tmp_path / STEP_FILE
    assert export_step(model, path) is True
    data = tmp_path / f"{STEP_FILE}.data"
    assert data.stat().st_size >= model.n_items * 3 * model.hidden_size * 4
    assert path.stat().st_size < EXTERNAL_FROM_BYTES  # the graph without its table
    session = ort.InferenceSession(str(path))
    assert str(data) in mapped_paths()
    rows = np.arange(model.n_items - 64, model.n_items)  # the last rows: the table is whole
    weights = np.linspace(0.1, 1.0, 64, dtype=np.float32)
    hidden = np.random.default_rng(0).standard_normal((64, model.hidden_size)).astype(np.float32)
    stepped = session.run(
        [STEP_OUTPUT], dict(zip(STEP_INPUTS, (rows, weights, hidden), strict=True))
    )[0]
    with torch.no_grad():
        expected = model.step(
            torch.from_numpy(rows), torch.from_numpy(weights), torch.from_numpy(hidden)
        ).numpy()
    assert np.abs(stepped - expected).max() <= 1e-5
