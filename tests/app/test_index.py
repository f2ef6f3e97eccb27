"""Retriever scores are the model's scores, its top-k is the exact top-k, bad indexes fail;
an approximate index searches with the manifest's parameters."""

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from app.bundle import (
    EXACT_INDEX_TYPE,
    INDEX_FILE,
    POPULARITY_FILE,
    BundleMismatch,
    Manifest,
    read_manifest,
)
from app.retrieval.index import Retriever
from app.retrieval.reranked import K_FACTOR_PARAMETER, RERANKED_TYPE, build_reranked
from loadtest.servers import mapped_paths
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


def with_index(
    tiny_bundle: TinyBundle, tmp_path: Path, factory: str, recorded: dict[str, Any]
) -> tuple[Path, Manifest]:
    """A copy of the tiny bundle whose index is `factory` and whose manifest says `recorded`."""
    bundle = Path(shutil.copytree(tiny_bundle.path, tmp_path / "bundle"))
    vectors = faiss.read_index(str(bundle / INDEX_FILE)).reconstruct_n(0, 300)
    index = faiss.index_factory(33, factory, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add(vectors)
    faiss.write_index(index, str(bundle / INDEX_FILE))
    manifest = read_manifest(bundle)
    return bundle, dataclasses.replace(manifest, index={**manifest.index, **recorded})


def test_ivf_searches_with_the_manifests_nprobe(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    recorded = {"type": "IVF8,Flat", "params": {"nprobe": 8}, "exact": False}
    bundle, manifest = with_index(tiny_bundle, tmp_path, "IVF8,Flat", recorded)
    retriever = Retriever(bundle, manifest)
    one_probe = faiss.read_index(str(bundle / INDEX_FILE))  # FAISS's default: nprobe 1
    missed = 0
    for hidden in states(5):
        expected = np.argsort(-model_scores(tiny_bundle, hidden), kind="stable")[:20]
        np.testing.assert_array_equal(retriever.search(hidden, 20)[1], expected)  # all 8 lists
        _, rows = one_probe.search(np.append(hidden, np.float32(1))[None, :], 20)
        missed += int(not np.array_equal(rows[0], expected))
    assert missed > 0  # so the exact answers above are nprobe's doing


def test_hnsw_searches_with_the_manifests_ef_search(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    recorded = {"type": "HNSW8", "params": {"efSearch": 5}, "exact": False}
    bundle, manifest = with_index(tiny_bundle, tmp_path, "HNSW8", recorded)
    retriever = Retriever(bundle, manifest)
    reference = faiss.read_index(str(bundle / INDEX_FILE))
    default = faiss.read_index(str(bundle / INDEX_FILE))  # FAISS's default: efSearch 16
    faiss.ParameterSpace().set_index_parameter(reference, "efSearch", 5)
    differs = 0
    for hidden in states(5):
        query = np.append(hidden, np.float32(1))[None, :]
        _, rows = reference.search(query, 50)
        np.testing.assert_array_equal(retriever.search(hidden, 50)[1], rows[0][rows[0] >= 0])
        differs += int(not np.array_equal(rows, default.search(query, 50)[1]))
    assert differs > 0  # so the agreement above is efSearch's doing


@pytest.mark.parametrize(
    ("factory", "recorded", "message"),
    [
        ("IVF8,Flat", {"type": EXACT_INDEX_TYPE, "params": {}}, "IVF8,Flat index, .* flat_ip"),
        ("IVF8,Flat", {"type": "IVF16,Flat", "params": {}}, "IVF8,Flat index, .* IVF16,Flat"),
        ("IVF8,Flat", {"type": "IVF8,Flat", "params": {"efSearch": 64}}, "no parameter efSearch"),
        ("Flat", {"type": "HNSW32", "params": {"efSearch": 64}}, "Flat index, .* HNSW32"),
    ],
)
def test_index_disagreeing_with_the_manifest_is_refused(
    tiny_bundle: TinyBundle, tmp_path: Path, factory: str, recorded: dict[str, Any], message: str
) -> None:
    bundle, manifest = with_index(tiny_bundle, tmp_path, factory, recorded)
    with pytest.raises(BundleMismatch, match=message):
        Retriever(bundle, manifest)


def test_a_reranked_index_gives_the_exact_top_k(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    bundle = Path(shutil.copytree(tiny_bundle.path, tmp_path / "bundle"))
    flat = faiss.read_index(str(bundle / INDEX_FILE))
    faiss.write_index(build_reranked(flat.reconstruct_n(0, flat.ntotal)), str(bundle / INDEX_FILE))
    manifest = read_manifest(bundle)
    recorded = {"type": RERANKED_TYPE, "params": {K_FACTOR_PARAMETER: 8}, "exact": False}
    retriever = Retriever(
        bundle, dataclasses.replace(manifest, index={**manifest.index, **recorded})
    )
    for hidden in states(5):
        expected = np.argsort(-model_scores(tiny_bundle, hidden), kind="stable")[:20]
        scores, rows = retriever.search(hidden, 20)
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_allclose(scores, model_scores(tiny_bundle, hidden)[rows], atol=1e-4)
    with pytest.raises(BundleMismatch, match="SQ8,RFlat index"):
        Retriever(bundle, manifest)  # the manifest still says exact


@pytest.mark.parametrize(
    ("factory", "recorded"),
    [
        ("Flat", {"type": EXACT_INDEX_TYPE, "params": {}}),
        ("IVF8,Flat", {"type": "IVF8,Flat", "params": {"nprobe": 8}, "exact": False}),
        ("HNSW8", {"type": "HNSW8", "params": {"efSearch": 16}, "exact": False}),
    ],
)
def test_the_index_is_searched_from_its_mapped_file(
    tiny_bundle: TinyBundle, tmp_path: Path, factory: str, recorded: dict[str, Any]
) -> None:
    """Memory-mapped, so that worker processes share the index's pages: same answers."""
    bundle, manifest = with_index(tiny_bundle, tmp_path, factory, recorded)
    retriever = Retriever(bundle, manifest)
    assert str(bundle / INDEX_FILE) in mapped_paths()
    in_memory = faiss.read_index(str(bundle / INDEX_FILE))
    for name, value in recorded["params"].items():
        faiss.ParameterSpace().set_index_parameter(in_memory, name, value)
    for hidden in states(3):
        query = np.append(hidden, np.float32(1))[None, :]
        np.testing.assert_array_equal(
            retriever.search(hidden, 20)[1], in_memory.search(query, 20)[1][0]
        )
