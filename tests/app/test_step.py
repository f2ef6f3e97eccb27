"""GruStep follows the PyTorch model step for step, and refuses a graph it would misfeed."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from app.bundle import STEP_FILE, VECTOR_STEP_FILE, BundleMismatch, Manifest, read_manifest
from app.gru.step import GruStep
from models.train import model_from_checkpoint
from tests.conftest import TinyBundle


@pytest.fixture(scope="module")
def gru_step(tiny_bundle: TinyBundle) -> GruStep:
    return GruStep(tiny_bundle.path, read_manifest(tiny_bundle.path))


def test_hidden_size_is_the_manifests(tiny_bundle: TinyBundle, gru_step: GruStep) -> None:
    assert gru_step.hidden_size == read_manifest(tiny_bundle.path).hidden_size == 32


@torch.no_grad()
def test_states_match_pytorch_over_whole_held_out_sessions(
    tiny_bundle: TinyBundle, gru_step: GruStep
) -> None:
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    sessions = tiny_bundle.data.held_out.sessions
    assert sessions.n_sessions > 50
    assert len(np.unique(sessions.weights)) > 10  # skips, partial and full watches
    max_diff, n_steps = 0.0, 0
    for s in range(sessions.n_sessions):
        expected = torch.zeros(1, model.hidden_size)
        hidden = None
        for event in range(sessions.offsets[s], sessions.offsets[s + 1]):
            item_row, weight = int(sessions.items[event]), float(sessions.weights[event])
            expected = model.step(torch.tensor([item_row]), torch.tensor([weight]), expected)
            hidden = gru_step.step(hidden, item_row, weight)
            assert hidden.shape == (32,)
            assert hidden.dtype == np.float32
            max_diff = max(max_diff, float(np.abs(hidden - expected[0].numpy()).max()))
            n_steps += 1
    assert n_steps == sessions.n_events
    assert max_diff <= 1e-5


def test_none_is_the_zero_state(gru_step: GruStep) -> None:
    from_none = gru_step.step(None, 5, 0.7)
    from_zero = gru_step.step(np.zeros(32, dtype=np.float32), 5, 0.7)
    np.testing.assert_array_equal(from_none, from_zero)
    assert np.abs(from_none).max() > 0.0


def test_weight_zero_leaves_the_state_unchanged(gru_step: GruStep) -> None:
    hidden = np.random.default_rng(0).standard_normal(32).astype(np.float32) * 0.5
    for item_row in (0, 17, 299):
        np.testing.assert_array_equal(gru_step.step(hidden, item_row, 0.0), hidden)  # h + 0 * (.)
    # and a positive weight does move it, so the comparison above could fail
    assert np.abs(gru_step.step(hidden, 17, 1.0) - hidden).max() > 1e-3


def test_state_of_the_wrong_size_is_refused(gru_step: GruStep) -> None:
    with pytest.raises(ValueError, match=r"shape \(32,\)"):
        gru_step.step(np.zeros(31, dtype=np.float32), 0, 1.0)


def test_manifest_hidden_size_other_than_the_graphs_is_refused(tiny_bundle: TinyBundle) -> None:
    manifest = dataclasses.replace(read_manifest(tiny_bundle.path), hidden_size=64)
    with pytest.raises(BundleMismatch, match="hidden size 64"):
        GruStep(tiny_bundle.path, manifest)


@torch.no_grad()
def test_vector_step_on_an_items_own_embedding_is_its_row_step(
    tiny_bundle: TinyBundle, gru_step: GruStep
) -> None:
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    embeddings = model.item_embedding.weight.numpy()
    rng = np.random.default_rng(1)
    hidden = None
    for item_row in rng.integers(0, model.n_items, 50).tolist():
        weight = float(rng.random())
        by_row = gru_step.step(hidden, item_row, weight)
        by_vector = gru_step.step_vector(hidden, embeddings[item_row], weight)
        np.testing.assert_allclose(by_vector, by_row, atol=1e-6)
        hidden = by_row
    assert hidden is not None
    assert np.abs(hidden).max() > 0.0


def test_vector_step_moves_by_the_vector(gru_step: GruStep) -> None:
    """Two different vectors from the same state give different states; weight 0 none."""
    rng = np.random.default_rng(2)
    hidden = rng.standard_normal(32).astype(np.float32) * 0.5
    first, second = rng.standard_normal((2, 32)).astype(np.float32)
    assert (
        np.abs(
            gru_step.step_vector(hidden, first, 1.0) - gru_step.step_vector(hidden, second, 1.0)
        ).max()
        > 1e-3
    )
    np.testing.assert_array_equal(gru_step.step_vector(hidden, first, 0.0), hidden)
    np.testing.assert_array_equal(gru_step.step_vector(None, first, 0.0), np.zeros(32, np.float32))


def test_item_vector_of_the_wrong_size_is_refused(gru_step: GruStep) -> None:
    with pytest.raises(ValueError, match=r"item_vector must have shape \(32,\)"):
        gru_step.step_vector(None, np.zeros(33, dtype=np.float32), 1.0)


def _write_graph(
    directory: Path,
    names: tuple[str, str, str],
    item_type: int,
    size: int,
    file_name: str = STEP_FILE,
) -> None:
    """A graph that passes `hidden` through, with the given input names and types."""
    item_shape: list[str | int] = ["batch"] if item_type != TensorProto.FLOAT else ["batch", size]
    inputs = [
        helper.make_tensor_value_info(names[0], item_type, item_shape),
        helper.make_tensor_value_info(names[1], TensorProto.FLOAT, ["batch"]),
        helper.make_tensor_value_info(names[2], TensorProto.FLOAT, ["batch", size]),
    ]
    output = helper.make_tensor_value_info("new_hidden", TensorProto.FLOAT, ["batch", size])
    node = helper.make_node("Identity", [names[2]], ["new_hidden"])
    graph = helper.make_graph([node], "step", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(directory / file_name))


@pytest.mark.parametrize(
    ("names", "item_type", "message"),
    [
        (("item", "weight", "hidden"), TensorProto.INT64, r"takes inputs \('item', "),
        (("hidden", "weight", "item_row"), TensorProto.INT64, "but the service feeds"),
        (("item_row", "weight", "hidden"), TensorProto.INT32, "input types are"),
    ],
)
def test_graph_with_other_inputs_is_refused(
    tiny_bundle: TinyBundle,
    tmp_path: Path,
    names: tuple[str, str, str],
    item_type: int,
    message: str,
) -> None:
    manifest: Manifest = read_manifest(tiny_bundle.path)
    _write_graph(tmp_path, names, item_type, manifest.hidden_size)
    shutil.copy(tiny_bundle.path / VECTOR_STEP_FILE, tmp_path)
    with pytest.raises(BundleMismatch, match=message):
        GruStep(tmp_path, manifest)


@pytest.mark.parametrize(
    ("names", "item_type", "message"),
    [
        (("item_row", "weight", "hidden"), TensorProto.FLOAT, r"takes inputs \('item_row', "),
        (("item_vector", "weight", "hidden"), TensorProto.INT64, "input types are"),
    ],
)
def test_vector_graph_with_other_inputs_is_refused(
    tiny_bundle: TinyBundle,
    tmp_path: Path,
    names: tuple[str, str, str],
    item_type: int,
    message: str,
) -> None:
    manifest = read_manifest(tiny_bundle.path)
    shutil.copy(tiny_bundle.path / STEP_FILE, tmp_path)
    _write_graph(tmp_path, names, item_type, manifest.hidden_size, VECTOR_STEP_FILE)
    with pytest.raises(BundleMismatch, match=f"{VECTOR_STEP_FILE}.*{message}"):
        GruStep(tmp_path, manifest)


def test_vector_graph_of_another_hidden_size_is_refused(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    manifest = read_manifest(tiny_bundle.path)
    shutil.copy(tiny_bundle.path / STEP_FILE, tmp_path)
    _write_graph(
        tmp_path, ("item_vector", "weight", "hidden"), TensorProto.FLOAT, 16, VECTOR_STEP_FILE
    )
    with pytest.raises(BundleMismatch, match="hidden size 32"):
        GruStep(tmp_path, manifest)


def test_hand_made_graph_with_the_right_inputs_is_accepted(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    manifest = read_manifest(tiny_bundle.path)
    _write_graph(tmp_path, ("item_row", "weight", "hidden"), TensorProto.INT64, 32)
    names = ("item_vector", "weight", "hidden")
    _write_graph(tmp_path, names, TensorProto.FLOAT, 32, VECTOR_STEP_FILE)
    hidden = np.arange(32, dtype=np.float32)
    step = GruStep(tmp_path, manifest)
    np.testing.assert_array_equal(step.step(hidden, 3, 0.5), hidden)
    np.testing.assert_array_equal(step.step_vector(hidden, np.ones(32, np.float32), 0.5), hidden)
