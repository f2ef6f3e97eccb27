"""What one ONNX step and one FAISS search cost per request at each batch size: batching's gain.

    .venv/bin/python -m loadtest.batch_costs --bundle bundles/microlens [--sizes 1,2,4,8,16,32]

For each batch size, in one process on one thread: the bundle's GRU step (gru_step.onnx) over
that many sessions; its index searched for that many states (top 100), FAISS's per-query scan
and, where the retriever has one, the exact BLAS search it switches to for batches (index.py);
and what Retriever.search_many picks. States are GRU states of popularity-drawn sessions, not
random vectors. Rounds are interleaved so that a slow moment of the machine hits every row
alike; the median of the rounds is printed, in microseconds per request. Asserts nothing.
"""

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from app.model import ServingModel, load_model

TOP = 100


def session_states(model: ServingModel, count: int, seed: int) -> npt.NDArray[np.float32]:
    """(count, H) states after 1-20 swipes on items drawn by popularity."""
    rng = np.random.default_rng(seed)
    share = model.popularity_share.astype(np.float64) + 1e-6
    draw = share / share.sum()
    states = []
    for _ in range(count):
        hidden = np.zeros(model.manifest.hidden_size, np.float32)
        for row in rng.choice(model.manifest.n_items, size=int(rng.integers(1, 21)), p=draw):
            hidden = model.step.step(hidden, int(row), float(rng.uniform(0.1, 1.0)))
        states.append(hidden)
    return np.stack(states).astype(np.float32)


def timed(call: Callable[[], object], repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - started) / repeats


@dataclass(frozen=True, slots=True)
class Batch:
    hidden: npt.NDArray[np.float32]  # (b, H)
    rows: npt.NDArray[np.int64]  # (b,) items swiped
    weights: npt.NDArray[np.float32]  # (b,)


def measure(model: ServingModel, batch: Batch) -> dict[str, float]:
    """Seconds per call of each way to step or search this batch."""
    size = batch.hidden.shape[0]
    queries = np.ones((size, batch.hidden.shape[1] + 1), np.float32)
    queries[:, :-1] = batch.hidden
    repeats = max(3, 48 // size)
    retriever = model.retriever
    costs = {
        "ONNX step": timed(
            lambda: model.step.step_many(batch.hidden, batch.rows, batch.weights), 20
        )
    }
    blas = faiss.cvar.distance_compute_blas_threshold
    try:
        faiss.cvar.distance_compute_blas_threshold = 1 << 30  # the scan at any size
        costs["index scan"] = timed(lambda: retriever.index.search(queries, TOP), repeats)
        exact = retriever.batch_index
        if exact is not None:
            faiss.cvar.distance_compute_blas_threshold = 0  # BLAS at any size
            costs["exact BLAS"] = timed(lambda: exact.search(queries, TOP), repeats)
    finally:
        faiss.cvar.distance_compute_blas_threshold = blas
    costs["search_many"] = timed(lambda: retriever.search_many(batch.hidden, TOP), repeats)
    return costs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/demo"))
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=(1, 2, 3, 4, 8, 16, 32),
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    threadpool_limits(1)  # as the service runs: one thread for BLAS, FAISS and ONNX
    model = load_model(args.bundle)
    states = session_states(model, max(args.sizes), args.seed)
    rng = np.random.default_rng(args.seed)
    rows = rng.integers(0, model.manifest.n_items, max(args.sizes)).astype(np.int64)
    weights = rng.uniform(0.1, 1.0, max(args.sizes)).astype(np.float32)
    samples: dict[tuple[str, int], list[float]] = defaultdict(list)
    for _ in range(args.rounds):
        for size in args.sizes:
            batch = Batch(states[:size], rows[:size], weights[:size])
            for name, seconds in measure(model, batch).items():
                samples[(name, size)].append(seconds / size)
    names = sorted(
        {name for name, _ in samples}, key=list(dict.fromkeys(n for n, _ in samples)).index
    )
    print(
        f"{args.bundle}: {model.manifest.n_items} items, H={model.manifest.hidden_size}, "
        f"index {model.manifest.index.get('type', 'exact')}; us per request, median of "
        f"{args.rounds} rounds, one thread"
    )
    print("batch  " + "".join(f"{name:>13}" for name in names))
    for size in args.sizes:
        cells = [statistics.median(samples[(name, size)]) * 1e6 for name in names]
        print(f"{size:>5}  " + "".join(f"{cell:>13,.0f}" for cell in cells))


if __name__ == "__main__":
    main()
