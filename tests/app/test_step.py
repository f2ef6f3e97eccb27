"""GruStep follows the PyTorch model step for step, and refuses a graph it would misfeed."""

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from app.bundle import STEP_FILE, BundleMismatch, Manifest, read_manifest
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


def _write_graph(directory: Path, names: tuple[str, str, str], item_type: int, size: int) -> None:
    """A graph that passes `hidden` through, with the given input names and types."""
    inputs = [
        helper.make_tensor_value_info(names[0], item_type, ["batch"]),
        helper.make_tensor_value_info(names[1], TensorProto.FLOAT, ["batch"]),
        helper.make_tensor_value_info(names[2], TensorProto.FLOAT, ["batch", size]),
    ]
    output = helper.make_tensor_value_info("new_hidden", TensorProto.FLOAT, ["batch", size])
    node = helper.make_node("Identity", [names[2]], ["new_hidden"])
    graph = helper.make_graph([node], "step", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(directory / STEP_FILE))


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
    with pytest.raises(BundleMismatch, match=message):
        GruStep(tmp_path, manifest)


def test_hand_made_graph_with_the_right_inputs_is_accepted(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    manifest = read_manifest(tiny_bundle.path)
    _write_graph(tmp_path, ("item_row", "weight", "hidden"), TensorProto.INT64, 32)
    hidden = np.arange(32, dtype=np.float32)
    np.testing.assert_array_equal(GruStep(tmp_path, manifest).step(hidden, 3, 0.5), hidden)
