"""Which FAISS index serves a catalogue: exact up to a size threshold, approximate above it.

Exact search costs one inner product per item per query: fine for a few hundred thousand
items, tens of milliseconds at a million. Up to `exact_max_items`, the answer stays exact but
may be found faster: an 8-bit scalar-quantised scan (a quarter of the bytes) fetches
k_factor * k candidates and the float vectors re-rank them (app/retrieval/reranked.py). It is
shipped only when, on the same session states, its top-20 and top-100 lists equal the exact
ones for at least `same_lists_target` of the queries and its median search is faster.
Above `exact_max_items` every candidate below is
built over the folded [embedding | bias] vectors (inner product), each search parameter is
swept upwards, and the fastest setting whose recall@100 against exact search reaches the
target on real session states, and that still returns full lists at `large_k` (HNSW finds
fewer than k when efSearch is small), is chosen. Latency is measured one query at a time on
one thread, as the service searches. The manifest records the choice and the whole table.
"""

import time
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from app.bundle import EXACT_INDEX_TYPE
from app.retrieval.reranked import K_FACTOR_PARAMETER, RERANKED_TYPE, build_reranked
from models.item_index import build_exact_index

RECALL_K = 100  # the recall that decides: the feed's candidates come from the top 100 or so
LATENCY_KEYS = ("median_ms", "p99_ms", "large_k_median_ms", "large_k_p99_ms")
FULL_LISTS = 0.99  # least share of the large_k results a choice must return


@dataclass(frozen=True, slots=True)
class Candidate:
    factory: str  # faiss.index_factory string, built under inner product
    parameter: str  # the search-time knob ParameterSpace sets: "nprobe" (IVF), "efSearch" (HNSW)
    values: tuple[int, ...]  # swept in this (ascending) order until the recall target is met


DEFAULT_CANDIDATES = (
    Candidate("IVF1024,Flat", "nprobe", (4, 8, 16, 32, 64, 128)),
    Candidate("IVF4096,Flat", "nprobe", (8, 16, 32, 64, 128, 256)),
    Candidate("HNSW32", "efSearch", (128, 256, 512, 1024)),
)


@dataclass(frozen=True, slots=True)
class IndexPlan:
    exact_max_items: int = 200_000  # up to here the index is exact (and nothing is measured)
    recall_target: float = 0.95  # recall@100 against exact search that a choice must reach
    candidates: tuple[Candidate, ...] = DEFAULT_CANDIDATES
    n_queries: int = 1000  # session states to measure on
    large_k: int = 1000  # also timed: a long session's search over-fetches its seen items
    max_train_points: int = 262_144  # k-means sample for IVF (64 per list at 4096 lists)
    seed: int = 0
    rerank_min_items: int = 5_000  # below, an exact scan takes tens of microseconds anyway
    k_factors: tuple[int, ...] = (2, 4)  # re-ranked candidates per result, tried in order
    same_lists_target: float = 0.99  # share of queries whose top-k must equal the exact one


class NoIndexMeetsTarget(RuntimeError):
    """No candidate setting reached the recall target: widen the sweep, do not ship it."""


def exact_description(dim: int) -> dict[str, Any]:
    return {"type": EXACT_INDEX_TYPE, "dim": dim, "exact": True, "params": {}, "recall_at_100": 1.0}


def choose_index(
    vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], plan: IndexPlan
) -> tuple[faiss.Index, dict[str, Any]]:
    """The index to ship over (n, d) item vectors and its manifest description.

    `queries` (q, d) are folded session states [hidden | 1], used only above the threshold.
    """
    n, dim = vectors.shape
    exact = build_exact_index(vectors)
    if n < plan.rerank_min_items:
        return exact, exact_description(dim)
    if n <= plan.exact_max_items:
        return _exact_or_reranked(exact, vectors, queries, plan)
    k = min(RECALL_K, n)
    _, truth = exact.search(queries, k)  # (q, k)
    # the exact baseline, for the table (timed on 100 queries: tens of ms each at a million)
    rows = [_row("Flat", {}, 1.0, exact, queries[:100], k, plan.large_k, 0.0)]
    del exact  # a million-item flat index is half a gigabyte
    best: tuple[faiss.Index, dict[str, Any]] | None = None
    for candidate in plan.candidates:
        t0 = time.perf_counter()
        index = _build(candidate.factory, vectors, plan)
        build_s = time.perf_counter() - t0
        for value in candidate.values:
            params = {candidate.parameter: value}
            _set_params(index, params)
            _, found = index.search(queries, k)
            recall = _recall(found, truth)
            row = _row(candidate.factory, params, recall, index, queries, k, plan.large_k, build_s)
            rows.append(row)
            if recall < plan.recall_target or row["large_k_found"] < FULL_LISTS:
                continue
            if best is None or row["median_ms"] < best[1]["median_ms"]:
                best = (index, row)
            break  # larger values only cost more time for recall already sufficient
    if best is None:
        table = "\n".join(str(row) for row in rows)
        raise NoIndexMeetsTarget(f"no candidate reached recall@{k} {plan.recall_target}:\n{table}")
    index, row = best
    _set_params(index, row["params"])
    description = {
        "type": row["type"],
        "dim": dim,
        "exact": False,
        **_measured(row, len(queries)),
        "large_k": plan.large_k,
        "recall_target": plan.recall_target,
        "exact_max_items": plan.exact_max_items,
        "candidates": rows,
    }
    return index, description


def _exact_or_reranked(
    exact: faiss.Index,
    vectors: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    plan: IndexPlan,
) -> tuple[faiss.Index, dict[str, Any]]:
    """The re-ranked 8-bit index when it gives the exact lists faster, else the exact one."""
    dim = vectors.shape[1]
    cutoffs = (20, RECALL_K)
    truth = {k: exact.search(queries, k)[1] for k in cutoffs}
    exact_row = _row("Flat", {}, 1.0, exact, queries, RECALL_K, plan.large_k, 0.0)
    rows = [exact_row]
    t0 = time.perf_counter()
    reranked = build_reranked(vectors)
    build_s = time.perf_counter() - t0
    for k_factor in plan.k_factors:
        params = {K_FACTOR_PARAMETER: k_factor}
        _set_params(reranked, params)
        found = {k: reranked.search(queries, k)[1] for k in cutoffs}
        same = {k: _same_lists(found[k], truth[k]) for k in cutoffs}
        recall = _recall(found[RECALL_K], truth[RECALL_K])
        row = _row(
            RERANKED_TYPE, params, recall, reranked, queries, RECALL_K, plan.large_k, build_s
        )
        row |= {f"same_top{k}": round(share, 4) for k, share in same.items()}
        rows.append(row)
        if min(same.values()) >= plan.same_lists_target:
            break
    else:
        return exact, exact_description(dim) | {"candidates": rows}
    if row["median_ms"] >= exact_row["median_ms"]:
        return exact, exact_description(dim) | {"candidates": rows}
    description = exact_description(dim) | {
        "type": RERANKED_TYPE,
        "exact": False,  # the candidates are approximate; their scores, as served, are exact
        "exact_scores": True,
        **_measured(row, len(queries)),
        "same_top20": row["same_top20"],
        f"same_top{RECALL_K}": row[f"same_top{RECALL_K}"],
        "same_lists_target": plan.same_lists_target,
        "candidates": rows,
    }
    return reranked, description


def _measured(row: dict[str, Any], n_queries: int) -> dict[str, Any]:
    """What a shipped choice's manifest entry copies from its row of the candidates table."""
    return {
        "params": row["params"],
        "recall_at_100": row["recall_at_100"],
        **{key: row[key] for key in (*LATENCY_KEYS, "large_k_found")},
        "queries": n_queries,
        "threads": 1,
    }


def _same_lists(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    """Share of queries whose list equals the exact one, order included."""
    return float((found == truth).all(axis=1).mean())


def _build(factory: str, vectors: npt.NDArray[np.float32], plan: IndexPlan) -> faiss.Index:
    index = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        rng = np.random.default_rng(plan.seed)
        sample = rng.choice(len(vectors), min(len(vectors), plan.max_train_points), replace=False)
        index.train(vectors[np.sort(sample)])
    index.add(vectors)
    return index


def _set_params(index: faiss.Index, params: dict[str, int]) -> None:
    space = faiss.ParameterSpace()
    for name, value in params.items():
        space.set_index_parameter(index, name, float(value))


def _recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    """Mean share of each query's exact top-k that the index found."""
    hits = [len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits) / truth.shape[1])


def _row(
    factory: str,
    params: dict[str, int],
    recall: float,
    index: faiss.Index,
    queries: npt.NDArray[np.float32],
    k: int,
    large_k: int,
    build_s: float,
) -> dict[str, Any]:
    """One line of the candidates table: recall@k and single-query latencies at k and large_k."""
    median, p99, _ = _timed_search(index, queries, k)
    large_median, large_p99, found = _timed_search(index, queries, large_k)
    latencies = (median, p99, large_median, large_p99)
    return {
        "type": factory,
        "params": params,
        "recall_at_100": round(recall, 4),
        **{key: round(ms, 3) for key, ms in zip(LATENCY_KEYS, latencies, strict=True)},
        "large_k_found": round(found, 4),
        "build_s": round(build_s, 1),
    }


def _timed_search(
    index: faiss.Index, queries: npt.NDArray[np.float32], k: int
) -> tuple[float, float, float]:
    """Median and p99 ms of one-query searches on one thread (the service's setting), and
    the mean share of the k results that came back (FAISS pads a short list with -1)."""
    k = min(k, index.ntotal)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index.search(queries[:10], k)  # warm the caches
        seconds, found = [], 0
        for query in queries:
            t0 = time.perf_counter()
            _, rows = index.search(query[None, :], k)
            seconds.append(time.perf_counter() - t0)
            found += int((rows >= 0).sum())
    finally:
        faiss.omp_set_num_threads(threads)
    median, p99 = np.percentile(np.array(seconds) * 1e3, [50, 99])
    return float(median), float(p99), found / (k * len(queries))
