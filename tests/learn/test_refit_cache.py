"""The learner's refit cache gives back the projection it was given, or nothing."""

from pathlib import Path

import numpy as np
import pytest

from learn.refit_cache import load_refit, save_refit
from models.projection import Feedforward, Layer, Neighbours, Projection


def projections() -> list[Projection]:
    rng = np.random.default_rng(0)
    f32 = np.float32
    two_layers = Feedforward(
        (
            Layer(rng.normal(size=(6, 4)).astype(f32), rng.normal(size=4).astype(f32)),
            Layer(rng.normal(size=(4, 3)).astype(f32), rng.normal(size=3).astype(f32)),
        )
    )
    content = rng.normal(size=(10, 6)).astype(f32)
    neighbours = Neighbours.fit(content, rng.normal(size=(10, 3)).astype(f32), k=3, tau=0.1)
    return [
        Projection("mlp", two_layers, {"hidden": 4}, bias_shift=-0.5),
        Projection("neighbours", neighbours, {"k": 3, "tau": 0.1}, bias_shift=0.25),
    ]


@pytest.mark.parametrize("projection", projections(), ids=lambda p: p.kind)
def test_a_saved_refit_projects_as_before(projection: Projection, tmp_path: Path) -> None:
    path = tmp_path / "projection.npz"
    save_refit(path, projection, {"encoder": {"kind": "hashing"}}, at=123.5)
    loaded = load_refit(path)
    assert loaded is not None
    again, description, at = loaded
    assert (again.kind, again.params, again.bias_shift) == (
        projection.kind,
        projection.params,
        projection.bias_shift,
    )
    assert description == {"encoder": {"kind": "hashing"}}
    assert at == 123.5
    probe = np.random.default_rng(1).normal(size=(7, 6)).astype(np.float32)
    np.testing.assert_array_equal(again.apply(probe), projection.apply(probe))


def test_no_cache_or_a_broken_one_means_refit(tmp_path: Path) -> None:
    assert load_refit(tmp_path / "missing.npz") is None
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    assert load_refit(broken) is None
