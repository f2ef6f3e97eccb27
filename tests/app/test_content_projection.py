"""Projection runs the bundle's graph exactly, and refuses one that disagrees with the manifest."""

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from app.bundle import PROJECTION_FILE, BundleMismatch, Manifest, read_manifest
from app.content.encoder import load_encoder
from app.content.projection import Projection
from models.projection import Feedforward, Layer
from models.projection import Projection as FittedProjection
from tests.conftest import TinyBundle


def _linear(directory: Path, content_dim: int, item_dim: int, seed: int = 0) -> Layer:
    rng = np.random.default_rng(seed)
    layer = Layer(
        rng.standard_normal((content_dim, item_dim)).astype(np.float32),
        rng.standard_normal(item_dim).astype(np.float32),
    )
    FittedProjection("ridge", Feedforward((layer,)), {}).write_onnx(directory / PROJECTION_FILE)
    return layer


def test_projection_is_the_affine_map_of_its_graph(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    manifest = read_manifest(tiny_bundle.path)
    layer = _linear(tmp_path, 1024, manifest.hidden_size + 1)
    content = np.random.default_rng(1).standard_normal((5, 1024)).astype(np.float32)
    projected = Projection(tmp_path, manifest).project(content)
    assert projected.shape == (5, 33)
    assert projected.dtype == np.float32
    np.testing.assert_allclose(projected, content @ layer.weight + layer.bias, rtol=1e-4, atol=1e-3)


def test_the_bundles_projection_maps_encoded_titles_to_item_vectors(
    tiny_bundle: TinyBundle,
) -> None:
    manifest = read_manifest(tiny_bundle.path)
    projection = Projection(tiny_bundle.path, manifest)
    encoder = load_encoder(tiny_bundle.path, manifest)
    assert projection.content_dim == encoder.dim
    vectors = projection.project(encoder.encode(["a first title", "another one", ""]))
    assert vectors.shape == (3, manifest.hidden_size + 1)
    assert np.isfinite(vectors).all()
    assert np.abs(vectors[0] - vectors[1]).max() > 0.0


def test_content_of_another_dimension_is_refused(tiny_bundle: TinyBundle) -> None:
    projection = Projection(tiny_bundle.path, read_manifest(tiny_bundle.path))
    with pytest.raises(ValueError, match=r"shape \(n, 1024\)"):
        projection.project(np.zeros((1, 1023), dtype=np.float32))


def _with_content_dim(manifest: Manifest, dim: int) -> Manifest:
    encoder = {**manifest.content["encoder"], "dim": dim}
    return dataclasses.replace(manifest, content={**manifest.content, "encoder": encoder})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: _with_content_dim(m, 2048), "content dimension is 2048"),
        (lambda m: dataclasses.replace(m, hidden_size=64), "item dimension is 65"),
    ],
)
def test_a_manifest_that_disagrees_with_the_graph_is_refused(
    tiny_bundle: TinyBundle, change: Callable[[Manifest], Manifest], message: str
) -> None:
    with pytest.raises(BundleMismatch, match=message):
        Projection(tiny_bundle.path, change(read_manifest(tiny_bundle.path)))


def test_a_graph_with_other_names_is_refused(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    shutil.copy(tiny_bundle.path / PROJECTION_FILE, tmp_path)
    model = onnx.load(str(tmp_path / PROJECTION_FILE))
    model.graph.output[0].name = "vector"
    model.graph.node[-1].output[0] = "vector"
    onnx.save(model, str(tmp_path / PROJECTION_FILE))
    with pytest.raises(BundleMismatch, match=r"maps \('content',\) to \('vector',\)"):
        Projection(tmp_path, read_manifest(tiny_bundle.path))
