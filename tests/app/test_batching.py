"""Micro-batching: concurrent calls share one run, answers are each caller's own, one failure
or cancellation touches nobody else; with the bundle's real ONNX step and FAISS index."""

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from app.batching.micro_batcher import MicroBatcher
from app.batching.model_batches import ModelBatches, SearchQuery, StepQuery
from app.model import ServingModel, load_model
from app.telemetry import Telemetry
from tests.conftest import TinyBundle


@pytest.fixture(scope="module")
def model(tiny_bundle: TinyBundle) -> ServingModel:
    return load_model(tiny_bundle.path)


class Doubler:
    """A batch function that records the batches it ran and the thread it ran them on."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[int] = set()
        self._gate = gate

    def __call__(self, queries: Sequence[int]) -> list[int]:
        if self._gate is not None:
            self._gate.wait(5)
        self.batches.append(list(queries))
        self.threads.add(threading.get_ident())
        if any(query < 0 for query in queries):
            raise ValueError("negative")
        return [2 * query for query in queries]


def test_calls_of_one_turn_share_one_batch_off_the_loop() -> None:
    run = Doubler()
    batcher = MicroBatcher(run, 64, "test")

    async def main() -> list[int]:
        return await asyncio.gather(*(batcher(n) for n in range(10)))

    try:
        assert asyncio.run(main()) == [2 * n for n in range(10)]
    finally:
        batcher.close()
    assert run.batches == [list(range(10))]
    assert threading.get_ident() not in run.threads


def test_a_lone_call_runs_on_the_loop_without_a_thread_hop() -> None:
    run = Doubler()
    batcher = MicroBatcher(run, 64, "test")

    async def main() -> int:
        return await batcher(21)

    try:
        assert asyncio.run(main()) == 42
    finally:
        batcher.close()
    assert run.batches == [[21]]
    assert run.threads == {threading.get_ident()}


def test_calls_during_a_running_batch_form_the_next_one_capped_at_max_batch() -> None:
    gate = threading.Event()
    run = Doubler(gate)
    batcher = MicroBatcher(run, 4, "test")

    async def main() -> list[int]:
        first = [asyncio.ensure_future(batcher(n)) for n in (0, 1)]
        await asyncio.sleep(0.05)  # the first batch, [0, 1], is running and held by the gate
        rest = [asyncio.ensure_future(batcher(n)) for n in range(2, 11)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*first, *rest)

    try:
        assert asyncio.run(main()) == [2 * n for n in range(11)]
    finally:
        batcher.close()
    assert run.batches == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9], [10]]
    assert threading.get_ident() in run.threads  # [10] ran alone, on the loop


def test_a_failed_batch_fails_its_callers_only_and_the_next_batch_runs() -> None:
    gate = threading.Event()
    run = Doubler(gate)
    batcher = MicroBatcher(run, 8, "test")

    async def main() -> tuple[list[int | BaseException], int]:
        failing = [asyncio.ensure_future(batcher(n)) for n in (1, -1)]
        await asyncio.sleep(0.05)
        later = asyncio.ensure_future(batcher(3))
        gate.set()
        outcomes = await asyncio.gather(*failing, return_exceptions=True)
        return outcomes, await later

    try:
        outcomes, later = asyncio.run(main())
    finally:
        batcher.close()
    assert all(isinstance(outcome, ValueError) for outcome in outcomes)
    assert later == 6


def test_a_cancelled_caller_is_left_out_and_the_others_are_answered() -> None:
    gate = threading.Event()
    run = Doubler(gate)
    batcher = MicroBatcher(run, 8, "test")

    async def main() -> list[int]:
        first = [asyncio.ensure_future(batcher(n)) for n in (0, 4)]
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(batcher(n)) for n in (1, 2, 3)]
        await asyncio.sleep(0)
        queued[1].cancel()
        gate.set()
        return list(await asyncio.gather(*first, queued[0], queued[2]))

    try:
        assert asyncio.run(main()) == [0, 8, 2, 6]
    finally:
        batcher.close()
    assert run.batches == [[0, 4], [1, 3]]


def test_batched_steps_equal_steps_one_at_a_time(model: ServingModel) -> None:
    rng = np.random.default_rng(0)
    hidden = [None] + [(rng.standard_normal(32) * 0.5).astype(np.float32) for _ in range(7)]
    upload = (rng.standard_normal(32) * 0.3).astype(np.float32)
    queries = [
        StepQuery(model.step, state, row, upload if row % 3 == 0 else None, 0.1 * (1 + row))
        for row, state in enumerate(hidden)
    ]
    telemetry = Telemetry()
    batches = ModelBatches(16, 1, telemetry)

    async def main() -> list[np.ndarray]:
        return await asyncio.gather(*(batches.step(query) for query in queries))

    try:
        moved = asyncio.run(main())
    finally:
        batches.close()
    for query, got in zip(queries, moved, strict=True):
        if query.vector is None:
            alone = model.step.step(query.hidden, query.row, query.weight)
        else:
            alone = model.step.step_vector(query.hidden, query.vector, query.weight)
        np.testing.assert_allclose(got, alone, atol=1e-5)
    exposed = telemetry.exposition().decode()
    assert 'nextswipe_batch_size_count{kind="step"} 1.0' in exposed  # one batch of eight


def test_batched_searches_equal_searches_one_at_a_time(model: ServingModel) -> None:
    rng = np.random.default_rng(1)
    states = [(rng.standard_normal(32) * 0.5).astype(np.float32) for _ in range(12)]
    ks = [5, 20, 100, 1, 50, 10, 20, 20, 3, 100, 7, 15]
    batches = ModelBatches(16, 1, Telemetry())

    async def main() -> list[tuple[np.ndarray, np.ndarray]]:
        searches = (
            batches.search(SearchQuery(model.retriever, s, k))
            for s, k in zip(states, ks, strict=True)
        )
        return await asyncio.gather(*searches)

    try:
        found = asyncio.run(main())
    finally:
        batches.close()
    for state, k, (scores, rows) in zip(states, ks, found, strict=True):
        alone_scores, alone_rows = model.retriever.search(state, k)
        assert len(rows) == k
        np.testing.assert_array_equal(rows, alone_rows)
        np.testing.assert_allclose(scores, alone_scores, rtol=1e-5, atol=1e-5)


def test_a_misshapen_query_is_refused_before_it_joins_a_batch(model: ServingModel) -> None:
    batches = ModelBatches(16, 1, Telemetry())
    wrong = np.zeros(31, np.float32)

    async def main() -> None:
        with pytest.raises(ValueError, match="shape"):
            await batches.step(StepQuery(model.step, wrong, 0, None, 1.0))
        with pytest.raises(ValueError, match="shape"):
            await batches.search(SearchQuery(model.retriever, wrong, 10))

    try:
        asyncio.run(main())
    finally:
        batches.close()
