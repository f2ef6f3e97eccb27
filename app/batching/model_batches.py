"""ModelBatches: the swipe path's GRU steps and the feed path's index searches, micro-batched.

A request hands over its one step or search and awaits the answer; the batcher runs the
requests that queued together as one ONNX Runtime run or one FAISS search (batches of one
model, so a hot swap in between splits a batch and never mixes bundles). One instance per
process, made by the lifespan and closed with it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import faiss
import numpy as np
import numpy.typing as npt

from app.batching.micro_batcher import MicroBatcher
from app.gru.step import GruStep
from app.retrieval.index import Retriever
from app.telemetry import Telemetry

K = TypeVar("K")
Vector = npt.NDArray[np.float32]
Found = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]  # scores, rows; best first


@dataclass(frozen=True, slots=True)
class StepQuery:
    step: GruStep
    hidden: Vector | None  # (H,); None: the zero state
    row: int  # the bundle row of the item, when `vector` is None
    vector: Vector | None  # an upload's (H,) embedding
    weight: float


@dataclass(frozen=True, slots=True)
class SearchQuery:
    retriever: Retriever
    hidden: Vector  # (H,)
    k: int


def _groups(keys: Sequence[K]) -> dict[K, list[int]]:
    """key -> the positions holding it, in order."""
    groups: dict[K, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    return groups


def run_steps(queries: Sequence[StepQuery]) -> list[Vector]:
    """One ONNX run per (bundle, by row or by vector) group of the batch."""
    answers: list[Vector] = [np.empty(0, np.float32)] * len(queries)
    keys = [(id(query.step), query.vector is None) for query in queries]
    for (_, by_row), positions in _groups(keys).items():
        group = [queries[position] for position in positions]
        step = group[0].step
        hidden = np.zeros((len(group), step.hidden_size), dtype=np.float32)
        for slot, query in enumerate(group):
            if query.hidden is not None:
                hidden[slot] = query.hidden
        weights = np.array([query.weight for query in group], dtype=np.float32)
        if by_row:
            rows = np.array([query.row for query in group], dtype=np.int64)
            moved = step.step_many(hidden, rows, weights)
        else:
            vectors = np.stack([query.vector for query in group if query.vector is not None])
            moved = step.step_vectors(hidden, vectors, weights)
        for slot, position in enumerate(positions):
            answers[position] = moved[slot]
    return answers


def run_searches(queries: Sequence[SearchQuery]) -> list[Found]:
    """One search per bundle's index: the largest k of the group, each answer cut to its own."""
    answers: list[Found] = [(np.empty(0, np.float32), np.empty(0, np.int64))] * len(queries)
    for positions in _groups([id(query.retriever) for query in queries]).values():
        group = [queries[position] for position in positions]
        found = group[0].retriever.search_many(
            np.stack([query.hidden for query in group]), max(query.k for query in group)
        )
        for (scores, rows), query, position in zip(found, group, positions, strict=True):
            answers[position] = (scores[: query.k], rows[: query.k])
    return answers


class ModelBatches:
    __slots__ = ("_searches", "_steps")

    def __init__(self, max_batch: int, faiss_threads: int, telemetry: Telemetry) -> None:
        self._steps: MicroBatcher[StepQuery, Vector] = MicroBatcher(
            run_steps, max_batch, "gru-step", sizes=partial(telemetry.observe_batch, "step")
        )
        # OpenMP's thread count is per thread: the search thread sets its own
        self._searches: MicroBatcher[SearchQuery, Found] = MicroBatcher(
            run_searches,
            max_batch,
            "index-search",
            partial(faiss.omp_set_num_threads, faiss_threads),
            partial(telemetry.observe_batch, "search"),
        )

    async def step(self, query: StepQuery) -> Vector:
        """The (H,) state after the query's swipe."""
        size = query.step.hidden_size
        for vector in (query.hidden, query.vector):  # checked here, so that one bad query
            if vector is not None and vector.shape != (size,):  # never fails a whole batch
                raise ValueError(f"expected shape ({size},), got {vector.shape}")
        return await self._steps(query)

    async def search(self, query: SearchQuery) -> Found:
        """The best min(k, n_items) items of the query's state in its bundle's index."""
        if query.hidden.shape != (query.retriever.hidden_size,):
            raise ValueError(
                f"hidden must have shape ({query.retriever.hidden_size},), got {query.hidden.shape}"
            )
        if query.k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        return await self._searches(query)

    def close(self) -> None:
        self._steps.close()
        self._searches.close()
