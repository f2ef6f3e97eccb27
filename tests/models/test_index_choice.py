"""Exact search below the threshold; above it, the fastest setting meeting the recall target."""

import faiss
import numpy as np
import numpy.typing as npt
import pytest

from app.bundle import EXACT_INDEX_TYPE, INDEX_FILE, verify_bundle
from app.retrieval.reranked import K_FACTOR_PARAMETER, RERANKED_TYPE, build_reranked, is_reranked
from models.export import session_states
from models.index_choice import (
    RECALL_K,
    Candidate,
    IndexPlan,
    NoIndexMeetsTarget,
    choose_index,
)
from models.item_index import folded_item_vectors, query_vectors
from models.train import model_from_checkpoint
from tests.conftest import TinyBundle
from tests.models.conftest import GROWN_ITEMS, TEST_PLAN, GrownBundle


@pytest.fixture(scope="module")
def vectors_and_queries(
    tiny_bundle: TinyBundle, grown_bundle: GrownBundle
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The grown catalogue's item vectors and held-out session states, both folded."""
    model = model_from_checkpoint(grown_bundle.growth.checkpoint)
    embeddings = model.item_embedding.weight.detach().numpy()
    vectors = folded_item_vectors(embeddings, model.item_bias.weight.detach().numpy()[:, 0])
    states = session_states(model, tiny_bundle.data.held_out.sessions, TEST_PLAN.n_queries)
    return vectors, query_vectors(states)


def exact_top(
    vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], k: int
) -> npt.NDArray[np.int64]:
    """(q, k) rows of the k best scores, computed without FAISS."""
    scores = queries.astype(np.float64) @ vectors.astype(np.float64).T
    top: npt.NDArray[np.int64] = np.argsort(-scores, axis=1)[:, :k]
    return top


def test_a_small_catalogue_gets_exact_search(
    vectors_and_queries: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> None:
    vectors, queries = vectors_and_queries
    plan = IndexPlan(rerank_min_items=GROWN_ITEMS + 1)  # 5,000 items: below both thresholds
    index, description = choose_index(vectors, queries, plan)
    assert isinstance(index, faiss.IndexFlatIP)
    assert description["type"] == EXACT_INDEX_TYPE
    assert description["exact"] is True
    assert description["params"] == {}


def test_the_choice_meets_the_recall_target(
    vectors_and_queries: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> None:
    vectors, queries = vectors_and_queries
    index, description = choose_index(vectors, queries, TEST_PLAN)
    assert description["exact"] is False
    assert faiss.downcast_index(index).ntotal == GROWN_ITEMS
    _, found = index.search(queries, RECALL_K)  # with the chosen parameters set
    truth = exact_top(vectors, queries, RECALL_K)
    hits = [len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True)]
    recall = float(np.mean(hits)) / RECALL_K
    assert recall >= TEST_PLAN.recall_target
    assert recall == pytest.approx(description["recall_at_100"], abs=0.01)  # float ties


def test_the_choice_is_the_fastest_setting_that_qualifies(grown_bundle: GrownBundle) -> None:
    description = verify_bundle(grown_bundle.path).index
    rows = description["candidates"]
    assert rows[0]["type"] == "Flat"
    qualifying = [
        row
        for row in rows[1:]
        if row["recall_at_100"] >= TEST_PLAN.recall_target and row["large_k_found"] >= 0.99
    ]
    fastest = min(qualifying, key=lambda row: row["median_ms"])
    assert (description["type"], description["params"]) == (fastest["type"], fastest["params"])


def test_the_manifest_records_the_index(grown_bundle: GrownBundle) -> None:
    manifest = verify_bundle(grown_bundle.path)
    index = faiss.read_index(str(grown_bundle.path / INDEX_FILE))
    assert manifest.n_items == index.ntotal == GROWN_ITEMS
    recorded = manifest.index
    assert recorded["type"] in ("IVF64,Flat", "HNSW16")
    assert set(recorded["params"]) == {"nprobe" if recorded["type"] == "IVF64,Flat" else "efSearch"}
    assert recorded["recall_at_100"] >= TEST_PLAN.recall_target
    assert recorded["exact"] is False
    assert recorded["queries"] == TEST_PLAN.n_queries
    assert 0 < recorded["median_ms"] <= recorded["p99_ms"]
    assert recorded["large_k_found"] >= 0.99


def test_no_qualifying_setting_is_an_error(
    vectors_and_queries: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> None:
    vectors, queries = vectors_and_queries
    plan = IndexPlan(
        exact_max_items=1000, candidates=(Candidate("IVF64,Flat", "nprobe", (1,)),), n_queries=50
    )
    with pytest.raises(NoIndexMeetsTarget, match="no candidate reached recall@100 0.95"):
        choose_index(vectors, queries[:50], plan)


def test_the_reranked_index_is_shipped_only_with_the_exact_lists(
    vectors_and_queries: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> None:
    vectors, queries = vectors_and_queries
    index, description = choose_index(vectors, queries, IndexPlan(rerank_min_items=0))
    reranked = [row for row in description["candidates"] if row["type"] == RERANKED_TYPE]
    assert reranked, description["candidates"]  # it was measured, whichever won
    if description["type"] == RERANKED_TYPE:
        assert is_reranked(index)
        assert description["same_top20"] >= 0.99
        scores, found = index.search(queries, 20)
        np.testing.assert_allclose(
            scores, np.take_along_axis(queries @ vectors.T, found, 1), rtol=1e-5, atol=1e-5
        )
    else:
        assert description["type"] == EXACT_INDEX_TYPE
        last = reranked[-1]
        assert min(last["same_top20"], last["same_top100"]) < 0.99 or (
            last["median_ms"] >= description["candidates"][0]["median_ms"]
        )


def test_reranked_scores_are_exact_and_its_lists_the_exact_ones(
    vectors_and_queries: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> None:
    vectors, queries = vectors_and_queries
    index = build_reranked(vectors)
    faiss.ParameterSpace().set_index_parameter(index, K_FACTOR_PARAMETER, 4)
    scores, found = index.search(queries, 20)
    exact = queries @ vectors.T
    np.testing.assert_allclose(scores, np.take_along_axis(exact, found, 1), rtol=1e-5, atol=1e-5)
    same = (found == exact_top(vectors, queries, 20)).all(axis=1).mean()
    assert same >= 0.95  # float32 near-ties aside, the exact top 20
