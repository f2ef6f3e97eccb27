"""Retriever scores are the model's scores, its top-k is the exact top-k, bad indexes fail."""

import dataclasses
import shutil
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from app.bundle import INDEX_FILE, POPULARITY_FILE, BundleMismatch, read_manifest
from app.retrieval.index import Retriever
from tests.conftest import TinyBundle


@pytest.fixture(scope="module")
def retriever(tiny_bundle: TinyBundle) -> Retriever:
    return Retriever(tiny_bundle.path, read_manifest(tiny_bundle.path))


def model_scores(
    tiny_bundle: TinyBundle, hidden: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """(n_items,) hidden . Wy + By from the checkpoint's weights, in float64."""
    weights = tiny_bundle.checkpoint["model"]
    embedding = weights["item_embedding.weight"].numpy().astype(np.float64)  # (n_items, H)
    bias = weights["item_bias.weight"].numpy().astype(np.float64)[:, 0]  # (n_items,)
    scores: npt.NDArray[np.float64] = embedding @ hidden.astype(np.float64) + bias
    return scores


def states(n: int) -> list[npt.NDArray[np.float32]]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(32).astype(np.float32) for _ in range(n)]


def test_scores_are_the_models_scores(tiny_bundle: TinyBundle, retriever: Retriever) -> None:
    for hidden in states(5):
        scores, rows = retriever.search(hidden, 50)
        assert scores.shape == rows.shape == (50,)
        np.testing.assert_allclose(scores, model_scores(tiny_bundle, hidden)[rows], atol=1e-4)


def test_top_k_is_the_exact_top_k(tiny_bundle: TinyBundle, retriever: Retriever) -> None:
    for hidden in states(5):
        expected = np.argsort(-model_scores(tiny_bundle, hidden), kind="stable")[:20]
        scores, rows = retriever.search(hidden, 20)
        np.testing.assert_array_equal(rows, expected)
        assert np.all(np.diff(scores) <= 0)  # best first


def test_k_is_clipped_to_the_catalogue(retriever: Retriever) -> None:
    scores, rows = retriever.search(states(1)[0], 10_000)
    assert rows.shape == scores.shape == (300,)
    assert sorted(rows.tolist()) == list(range(300))  # every item once, no -1 padding
    assert retriever.search(states(1)[0], 0)[1].shape == (0,)


def test_state_of_the_wrong_size_is_refused(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match=r"shape \(32,\)"):
        retriever.search(np.zeros(33, dtype=np.float32), 5)


def test_popular_is_by_training_count_then_row(
    tiny_bundle: TinyBundle, retriever: Retriever
) -> None:
    popularity = np.load(tiny_bundle.path / POPULARITY_FILE)
    rows = retriever.popular(300)
    counts = popularity[rows]
    assert sorted(rows.tolist()) == list(range(300))
    assert np.all(np.diff(counts) <= 0)
    for count in np.unique(counts):  # ties keep row order
        tied = rows[counts == count]
        assert np.all(np.diff(tied) > 0)
    np.testing.assert_array_equal(retriever.popular(7), rows[:7])
    assert retriever.popular(0).shape == (0,)
    with pytest.raises(ValueError, match="read-only"):
        retriever.popular(3)[0] = 1  # callers cannot corrupt the precomputed order


@pytest.mark.parametrize(
    ("n_items", "hidden_size", "message"),
    [
        (301, 32, "holds 300 items, the manifest says 301"),
        (300, 64, "dimension 33, but hidden size 64 plus the bias needs 65"),
    ],
)
def test_manifest_disagreeing_with_the_index_is_refused(
    tiny_bundle: TinyBundle, n_items: int, hidden_size: int, message: str
) -> None:
    manifest = read_manifest(tiny_bundle.path)
    manifest = dataclasses.replace(manifest, n_items=n_items, hidden_size=hidden_size)
    with pytest.raises(BundleMismatch, match=message):
        Retriever(tiny_bundle.path, manifest)


def test_l2_index_is_refused(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    bundle = Path(shutil.copytree(tiny_bundle.path, tmp_path / "bundle"))
    vectors = np.zeros((300, 33), dtype=np.float32)
    index = faiss.IndexFlatL2(33)
    index.add(vectors)
    faiss.write_index(index, str(bundle / INDEX_FILE))
    with pytest.raises(BundleMismatch, match="inner product"):
        Retriever(bundle, read_manifest(bundle))


def test_popularity_of_the_wrong_length_is_refused(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    bundle = Path(shutil.copytree(tiny_bundle.path, tmp_path / "bundle"))
    np.save(bundle / POPULARITY_FILE, np.ones(299, dtype=np.int64))
    with pytest.raises(BundleMismatch, match=r"shape \(299,\), expected \(300,\)"):
        Retriever(bundle, read_manifest(bundle))
