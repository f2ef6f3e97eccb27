"""Full-ranking next-item evaluation of the model beside the baselines, on the same split.

    python -m models.evaluate --checkpoint build/checkpoints/model.pt \
        --data ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz [--out report.json]

The protocol (DESIGN.md): each session's state starts at zero; every position of every
held-out session predicts the next item, ranked against all items; ties count against
the model; held-out events with items unknown to training were dropped and are counted.
"""

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from models.baseline_tuning import BaselineSettings, load_baselines
from models.baselines import MostPopular
from models.command_line import add_data_arguments, data_source, given_or_recorded, use_threads
from models.config import TrainConfig
from models.gru4rec import GRU4Rec
from models.metrics import RankingMetrics, conservative_ranks
from models.prepare import Prepared, prepare
from models.repeats import mix, recency, softmax
from models.sessions import Sessions
from models.train import load_checkpoint, model_from_checkpoint

Predictions = Iterator[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]


Point = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.int64], int]


@torch.no_grad()
def _gru_points(
    model: GRU4Rec,
    sessions: Sessions,
    max_sessions: int,
    scored_from: npt.NDArray[np.int64] | None,
) -> Iterator[Point]:
    """(scores, targets, the rows' session starts, position t) after each step of a chunk."""
    model.eval()
    for first in range(0, sessions.n_sessions, max_sessions):
        chunk = np.arange(first, min(first + max_sessions, sessions.n_sessions))
        starts, lengths = sessions.offsets[chunk], sessions.lengths[chunk]
        hidden = torch.zeros(len(chunk), model.state_size)
        for t in range(int(lengths.max(initial=0)) - 1):
            active = np.flatnonzero(lengths > t + 1)  # sessions with a target after position t
            events = starts[active] + t
            hidden_active = model.step(
                torch.from_numpy(sessions.items[events]),
                torch.from_numpy(sessions.weights[events]),
                hidden[active],
            )
            hidden[active] = hidden_active
            scored = np.ones(len(active), dtype=np.bool_)
            if scored_from is not None:
                scored = t + 1 >= scored_from[chunk[active]]
                if not scored.any():
                    continue
            scores = model.score_all(hidden_active[torch.from_numpy(scored)]).numpy()
            yield scores, sessions.items[events[scored] + 1], starts[active][scored], t


def gru_predictions(
    model: GRU4Rec,
    sessions: Sessions,
    max_sessions: int = 512,
    scored_from: npt.NDArray[np.int64] | None = None,
    repeat_share: float = 0.0,
) -> Predictions:
    """(scores, targets) for every next-item target, chunk by chunk of sessions.

    Within a chunk all sessions step in parallel, position by position, from a zero state.
    `scored_from` (n_sessions,): the first position of each session whose item is a target
    (earlier ones only build the state; default 1, every target). `repeat_share` > 0 mixes
    the session's own items in (models/repeats.py): the scores are then log-probabilities.
    """
    for scores, targets, row_starts, t in _gru_points(model, sessions, max_sessions, scored_from):
        if repeat_share > 0.0:
            seen = recency(sessions, row_starts, np.full(len(row_starts), t), model.n_items)
            scores = mix(softmax(scores), seen, repeat_share)
        yield scores, targets


def measure(predictions: Predictions) -> dict[str, float]:
    metrics = RankingMetrics(cutoffs=(10, 20))
    t0 = time.time()
    for scores, targets in predictions:
        metrics.add(conservative_ranks(scores, targets))
    return {**metrics.result(), "events": float(metrics.n_events), "seconds": time.time() - t0}


def measure_repeat_shares(
    model: GRU4Rec, sessions: Sessions, shares: Sequence[float], max_sessions: int = 512
) -> list[dict[str, float]]:
    """measure(gru_predictions(..., repeat_share=share)) for each share, the model stepped and
    scored once for all of them (a tuning trial judges every epoch at each share)."""
    metrics = [RankingMetrics(cutoffs=(10, 20)) for _ in shares]
    t0 = time.time()
    for scores, targets, row_starts, t in _gru_points(model, sessions, max_sessions, None):
        if any(share > 0.0 for share in shares):
            seen = recency(sessions, row_starts, np.full(len(row_starts), t), model.n_items)
            probabilities = softmax(scores)
        for share, share_metrics in zip(shares, metrics, strict=True):
            mixed = scores if share == 0.0 else mix(probabilities, seen, share)
            share_metrics.add(conservative_ranks(mixed, targets))
    seconds = time.time() - t0
    return [{**m.result(), "events": float(m.n_events), "seconds": seconds} for m in metrics]


LENGTH_BUCKETS = ((2, 5), (6, 10), (11, 20), (21, None))  # session lengths, in events


def measure_by_length(
    model: GRU4Rec, sessions: Sessions, buckets: Sequence[tuple[int, int | None]] = LENGTH_BUCKETS
) -> dict[str, dict[str, float]]:
    """The model's metrics over the targets of the sessions of each length bucket (a session
    of n events has n - 1 targets): where it is weak, as attention models claim for long
    sessions. The model steps and scores once; every target counts in its session's bucket."""
    lengths = sessions.lengths
    start_length = dict(zip(sessions.offsets[:-1].tolist(), lengths.tolist(), strict=True))
    names = [f"{low}-{high}" if high is not None else f">{low - 1}" for low, high in buckets]
    metrics = {name: RankingMetrics(cutoffs=(10, 20)) for name in names}
    for scores, targets, row_starts, _ in _gru_points(model, sessions, 512, None):
        ranks = conservative_ranks(scores, targets)
        of_rows = np.array([start_length[int(start)] for start in row_starts])
        for name, (low, high) in zip(names, buckets, strict=True):
            inside = (of_rows >= low) & (of_rows <= (high or np.iinfo(np.int64).max))
            if inside.any():
                metrics[name].add(ranks[inside])
    return {
        name: {**m.result(), "events": float(m.n_events)}
        for name, m in metrics.items()
        if m.n_events
    }


def evaluate_all(
    model: GRU4Rec,
    data: Prepared,
    baselines: BaselineSettings | None,
    repeat_share: float = 0.0,
) -> dict[str, dict[str, float]]:
    """Metrics of the model (its config's `repeat_share` mixed in) and, unless None, of
    most-popular, item-kNN and V-SKNN with `baselines`' settings (a tuned config's
    `[baselines]` table)."""
    predictions = gru_predictions(model, data.held_out.sessions, repeat_share=repeat_share)
    results = {"gru4rec": measure(predictions)}
    if baselines is not None:
        results.update(baseline_results(data, baselines))
    return results


def baseline_results(data: Prepared, settings: BaselineSettings) -> dict[str, dict[str, float]]:
    held_out, n_items = data.held_out.sessions, len(data.vocab)
    return {
        "most_popular": measure(MostPopular(data.item_counts).predict(held_out)),
        "item_knn": measure(settings.item_knn(data.train, n_items).predict(held_out)),
        "v_sknn": measure(settings.vsknn(data.train, n_items).predict(held_out)),
    }


def report(results: dict[str, dict[str, float]], data: Prepared) -> dict[str, Any]:
    return {"dataset": data.dataset, "results": results}


def format_table(results: dict[str, dict[str, float]]) -> str:
    columns = ("recall@20", "mrr@20", "recall@10", "mrr@10")
    lines = [f"{'model':<14}" + "".join(f"{c:>11}" for c in columns) + f"{'events':>9}"]
    for name, values in results.items():
        cells = "".join(f"{values[c]:>11.4f}" for c in columns)
        lines.append(f"{name:<14}{cells}{int(values['events']):>9}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=None, help="its [baselines] table")
    add_data_arguments(parser)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--by-length", action="store_true", help="also the model per session-length bucket"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON")
    args = parser.parse_intermixed_args()
    given = data_source(args, parser.error)
    checkpoint = load_checkpoint(args.checkpoint)
    config = TrainConfig(**checkpoint["config"])
    use_threads(config.threads)
    source = given_or_recorded(given, checkpoint["dataset"])
    try:
        data = prepare(config, source, checkpoint["dataset"]["purpose"])
    except ValueError as error:
        parser.error(str(error))
    if list(data.vocab.item_ids) != checkpoint["item_ids"]:
        parser.error("the data does not give the checkpoint's item vocabulary")
    baselines = None if args.no_baselines else load_baselines(args.config)
    results = evaluate_all(model_from_checkpoint(checkpoint), data, baselines, config.repeat_share)
    print("data:", data.dataset)
    print(format_table(results))
    if args.by_length:
        by_length = measure_by_length(model_from_checkpoint(checkpoint), data.held_out.sessions)
        print("gru4rec by session length (events):")
        print(format_table(by_length))
        results |= {f"gru4rec, sessions {name}": row for name, row in by_length.items()}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report(results, data), indent=2) + "\n")


if __name__ == "__main__":
    main()
