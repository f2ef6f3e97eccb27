"""Accuracy of the served path: the bundle's exported artifacts, run as the service runs them.

    python -m models.served_accuracy --bundle bundles/microlens \
        --checkpoint build/checkpoints/microlens.pt --save build/served/exact.npz
    python -m models.served_accuracy --bundle bundles/microlens-fast \
        --checkpoint build/checkpoints/microlens.pt --compare build/served/exact.npz

Every held-out session of the checkpoint's split is stepped one swipe at a time by the
bundle's ONNX step (app.gru.step) and every state searches the bundle's FAISS index
(app.retrieval.index) for its top 20, one query per call (or `--batch` at a time, as
micro-batched feeds are): the service's own code with the service's settings. Recall@20 and
MRR@20 of the next item follow the usual protocol (DESIGN.md) but with the ranks the index
returns. `--save` keeps every step's top 20; `--compare` reads another run's and reports how
many steps got the same list, in the same order, and how far the metrics moved: what a
serving cut (a quantised index, an int8 step, micro-batching) must keep.
"""

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.model import load_model
from models.command_line import add_data_arguments, data_source, given_or_recorded
from models.config import TrainConfig
from models.prepare import prepare
from models.sessions import Sessions
from models.train import load_checkpoint

TOP_K = 20


@dataclass(frozen=True, slots=True)
class ServedRun:
    recall: float
    mrr: float
    events: int
    step_ms: float  # median of one GRU step
    search_ms: float  # median of one search
    seconds: float


def served_top_k(
    bundle: Path, sessions: Sessions, limit: int | None = None, batch: int = 1
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], ServedRun]:
    """(n, 20) rows the service ranks after each step with a next item, (n,) those items.

    `sessions` must be in the bundle's rows. At most `limit` sessions, in order. With
    `batch` > 1 the states are searched that many at a time (Retriever.search_many), as
    micro-batched feeds are, and search_ms is per state.
    """
    model = load_model(bundle)
    n_sessions = sessions.n_sessions if limit is None else min(limit, sessions.n_sessions)
    lists, targets, step_s, search_s = [], [], [], []
    states: list[npt.NDArray[np.float32]] = []
    started = time.perf_counter()
    for s in range(n_sessions):
        hidden = None
        first, end = int(sessions.offsets[s]), int(sessions.offsets[s + 1])
        for event in range(first, end - 1):
            t0 = time.perf_counter()
            hidden = model.step.step(
                hidden, int(sessions.items[event]), float(sessions.weights[event])
            )
            step_s.append(time.perf_counter() - t0)
            states.append(hidden)
            targets.append(int(sessions.items[event + 1]))
    for first in range(0, len(states), batch):
        t0 = time.perf_counter()
        found = model.retriever.search_many(np.stack(states[first : first + batch]), TOP_K)
        search_s.append((time.perf_counter() - t0) / len(found))
        for _, rows in found:
            padded = np.full(TOP_K, -1, dtype=np.int64)
            padded[: len(rows)] = rows
            lists.append(padded)
    top = np.stack(lists) if lists else np.empty((0, TOP_K), dtype=np.int64)
    wanted = np.array(targets, dtype=np.int64)
    hit = top == wanted[:, None]  # (n, 20): at most one True per row
    ranks = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)
    run = ServedRun(
        recall=float(hit.any(axis=1).mean()) if len(top) else 0.0,
        mrr=float(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0).mean()) if len(top) else 0.0,
        events=len(top),
        step_ms=float(np.median(step_s) * 1e3) if step_s else 0.0,
        search_ms=float(np.median(search_s) * 1e3) if search_s else 0.0,
        seconds=time.perf_counter() - started,
    )
    return top, wanted, run


def in_bundle_rows(sessions: Sessions, data_ids: tuple[str, ...], bundle: Path) -> Sessions:
    """Sessions in the training vocabulary's rows -> the same in the bundle's rows."""
    bundle_ids: list[str] = json.loads((bundle / "item_ids.json").read_text())
    row_of = {item_id: row for row, item_id in enumerate(bundle_ids)}
    remap = np.array([row_of[item_id] for item_id in data_ids], dtype=np.int64)
    return Sessions(remap[sessions.items], sessions.offsets, sessions.weights)


def compare(top: npt.NDArray[np.int64], other: npt.NDArray[np.int64]) -> dict[str, float]:
    """Share of steps whose top 20 is the same list (same order), and the same set."""
    if top.shape != other.shape:
        raise ValueError(f"the runs ranked different steps: {top.shape} and {other.shape}")
    same_order = (top == other).all(axis=1)
    same_set = np.array([set(a) == set(b) for a, b in zip(top, other, strict=True)])
    return {"same_order": float(same_order.mean()), "same_set": float(same_set.mean())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True, help="gives the split")
    add_data_arguments(parser)
    parser.add_argument("--limit", type=int, default=None, help="at most this many sessions")
    parser.add_argument("--save", type=Path, default=None, help="keep every step's top 20")
    parser.add_argument("--compare", type=Path, default=None, help="a --save of another run")
    parser.add_argument(
        "--batch", type=int, default=1, help="states per search, as micro-batched feeds"
    )
    args = parser.parse_intermixed_args(argv)
    checkpoint = load_checkpoint(args.checkpoint)
    config = TrainConfig(**checkpoint["config"])
    source = given_or_recorded(data_source(args, parser.error), checkpoint["dataset"])
    data = prepare(config, source, checkpoint["dataset"]["purpose"])
    sessions = in_bundle_rows(data.held_out.sessions, data.vocab.item_ids, args.bundle)
    top, targets, run = served_top_k(args.bundle, sessions, args.limit, args.batch)
    print(
        f"{args.bundle}: recall@20 {run.recall:.4f}, mrr@20 {run.mrr:.4f} over {run.events} "
        f"targets; median step {run.step_ms:.3f} ms, search {run.search_ms:.3f} ms "
        f"({run.seconds:.0f} s)"
    )
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.save, top=top, targets=targets, run=json.dumps(asdict(run)))
    if args.compare is not None:
        with np.load(args.compare) as saved:
            other = saved["top"]
            base = json.loads(str(saved["run"]))
        same = compare(top, other)
        print(
            f"against {args.compare}: same top-20 list {same['same_order']:.4%} of steps, "
            f"same set {same['same_set']:.4%}; recall@20 {run.recall - base['recall']:+.4f}, "
            f"mrr@20 {run.mrr - base['mrr']:+.4f}"
        )


if __name__ == "__main__":
    main()
