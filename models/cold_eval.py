"""Cold-item evaluation: how well items that training never saw are recommended from their titles.

    python -m models.cold_eval --config models/configs/microlens.toml \
        --data ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz \
        [--encoders hashing minilm] [--out build/cold-eval-report.json] [key=value ...]

A seeded 10% of the training split's items is held out as cold: their events are spliced
out of the training sessions and GRU4Rec is trained once, on the train split. Per encoder,
the projection (models/projection.py) chooses its kind and its bias shift as it does at
export, on the validation states of the warm items, a tenth of which it holds out as stand-ins
for new ones: the shift that ranks those best while the other targets' Recall@20 stays within
--warm-tolerance (1%) of theirs with the stand-ins unreachable. The test split then reports
cold, warm and all targets, every item ranked, for:
  projected    cold items' [embedding | bias] = the projection of their titles (input and row),
               its bias shift included: the vectors an exported bundle would serve
  random       each cold item takes a random warm item's vector (seeded)
  content_knn  title cosine to the session's recent items (models/content_knn.py)
  blended      projected, plus content-kNN's score on cold items only, its weight and the
               bias shift chosen together on validation (models/cold_blend.py)
  warm_only    cold items are no input and never ranked: a cold target is a miss
The titles are the config's `titles` file (or the generated log's). Beside the table it prints
the test frontier of the projected model over every bias shift the projection tried: what
each costs warm, against the warm-only model's warm Recall@20 less the tolerance.
The trained model and the content vectors are cached under --work.
"""

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from models.cold_blend import (
    BLEND_WEIGHTS_SD,
    BlendChoice,
    blended_ranks,
    choose_blend,
    recall_at_20,
)
from models.cold_start import (
    choose_cold,
    gru_states,
    rank_rows,
    shifted_ranks,
    splice,
    split_metrics,
)
from models.command_line import add_data_arguments, data_source, parse
from models.config import TrainConfig
from models.content_export import write_encoder
from models.content_knn import ContentKNN
from models.gru4rec import GRU4Rec
from models.item_index import folded_item_vectors
from models.metrics import conservative_ranks
from models.prepare import Prepared, item_titles, read_split
from models.projection import WARM_TOLERANCE, choose_projection
from models.ranked_projection import ranked_snapshots
from models.sessions import Sessions
from models.train import Checkpoint, fit, load_checkpoint, model_from_checkpoint
from models.vocab import ItemVocab, encode

KNN_WINDOWS = (1, 3, 10)  # content-kNN windows tried on validation
KNN_TUNE_SESSIONS = 2000  # validation sessions that choose the window


def without_threads(config: dict[str, Any]) -> dict[str, Any]:
    """A config as far as the trained model goes: threads change the speed, not what is learned."""
    return {key: value for key, value in config.items() if key != "threads"}


def trained(config: TrainConfig, data: Prepared, cold_ids: list[str], cache: Path) -> Checkpoint:
    """The model trained on data.train, or the cached one trained on the same items and config."""
    if cache.exists():
        checkpoint = load_checkpoint(cache)
        same = (
            without_threads(checkpoint["config"]) == without_threads(config.to_dict())
            and checkpoint["item_ids"] == list(data.vocab.item_ids)
            and checkpoint.get("cold_item_ids") == cold_ids
        )
        if same:
            print(f"reusing the checkpoint {cache}")
            return checkpoint
    checkpoint = {**fit(config, data), "cold_item_ids": cold_ids}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, cache)
    return checkpoint


def content_vectors(
    config: TrainConfig, kind: str, item_ids: tuple[str, ...], titles: dict[str, str], work: Path
) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
    """(n_items, D) title vectors of every row (cached under `work`), and the encoder's params."""
    (work / kind).mkdir(parents=True, exist_ok=True)
    encoder, params = write_encoder(dataclasses.replace(config, content_encoder=kind), work / kind)
    texts = [titles.get(item_id, "") for item_id in item_ids]
    listing = "\n".join(f"{i}\t{t}" for i, t in zip(item_ids, texts, strict=True))
    digest = hashlib.sha256(listing.encode())
    cache = work / f"content-{encoder.name}-{digest.hexdigest()[:16]}.npy"
    if cache.exists():
        return np.load(cache), params
    t0 = time.time()
    vectors = encoder.encode(texts)
    print(f"{encoder.name}: encoded {len(texts)} titles in {time.time() - t0:.1f} s")
    np.save(cache, vectors)
    return vectors, params


def knn_ranks(
    knn: ContentKNN, sessions: Sessions
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    ranks, targets = [], []
    for scores, target in knn.predict(sessions):
        ranks.append(conservative_ranks(scores, target))
        targets.append(target)
    return np.concatenate(ranks), np.concatenate(targets)


def blend_on_validation(
    model: GRU4Rec,
    sessions: Sessions,
    embedding: npt.NDArray[np.float32],
    rows: npt.NDArray[np.float32],
    unshifted: npt.NDArray[np.float32],
    cold: npt.NDArray[np.bool_],
    knn: ContentKNN,
    shifts: npt.NDArray[np.float32],
    warm_tolerance: float = WARM_TOLERANCE,
) -> BlendChoice:
    """The blend's shift and weight, chosen on validation sessions that hold cold targets:
    their warm Recall@20 within the tolerance of the warm-only model's on the same sessions."""
    states, targets = gru_states(model, sessions, embedding, skip=cold)
    warm_only = rank_rows(states, targets, rows, cold)[~cold[targets]]
    warm_bar = (1.0 - warm_tolerance) * recall_at_20(warm_only)
    states, targets = gru_states(model, sessions, unshifted[:, :-1])
    unit = float(rows[~cold, -1].std(dtype=np.float64))  # the projection's shift unit
    shift_list, weights = shifts.tolist(), [unit * w for w in BLEND_WEIGHTS_SD]
    ranks = blended_ranks(states, targets, unshifted, cold, knn, sessions, shift_list, weights)
    return choose_blend(ranks, cold[targets], shift_list, weights, warm_bar)


def frontier(
    states: npt.NDArray[np.float32],
    targets: npt.NDArray[np.int64],
    projected: npt.NDArray[np.float32],
    cold: npt.NDArray[np.bool_],
    shifts: npt.NDArray[np.float32],
) -> list[dict[str, Any]]:
    """Cold, warm and all-target metrics at each shift of the cold rows' bias.

    The shift moves scores only, never the GRU input: `states` stepped on `projected`.
    """
    ranks = shifted_ranks(states, targets, projected, cold, shifts)
    return [
        {"shift": shift, **split_metrics(shift_ranks, cold[targets])}
        for shift, shift_ranks in zip(shifts.tolist(), ranks, strict=True)
    ]


def format_frontier(name: str, shift: dict[str, Any], warm_bar: float) -> str:
    lines = [
        f"{name}: projected cold items, bias shift against Recall@20 (test; * = the "
        f"projection's choice; warm-only warm R@20 less the tolerance: {warm_bar:.4f})",
        "| shift (sd) | shift | cold R@20 | warm R@20 | all R@20 |",
        "|---:|---:|---:|---:|---:|",
    ]
    for i, (sd, point) in enumerate(zip(shift["shifts_sd"], shift["test_frontier"], strict=True)):
        mark = "*" if i == shift["chosen_index"] else ""
        cells = " | ".join(f"{point[p]['recall@20']:.4f}" for p in ("cold", "warm", "all"))
        lines.append(f"| {mark}{sd:g} | {point['shift']:.3f} | {cells} |")
    return "\n".join(lines)


def format_table(results: dict[str, dict[str, dict[str, dict[str, float]]]]) -> str:
    columns = "| cold R@20 | cold MRR@20 | warm R@20 | warm MRR@20 | all R@20 | all MRR@20 |"
    lines = ["| encoder | model " + columns, "|---|---|" + "---:|" * 6]
    for encoder, variants in results.items():
        for variant, parts in variants.items():
            cells = "".join(
                f" {parts[part]['recall@20']:.4f} | {parts[part]['mrr@20']:.4f} |"
                for part in ("cold", "warm", "all")
            )
            lines.append(f"| {encoder} | {variant} |{cells}")
    some = next(iter(next(iter(results.values())).values()))
    counts = ", ".join(f"{part} {int(some[part]['events'])}" for part in ("cold", "warm", "all"))
    return "\n".join(lines) + f"\n\ntest targets: {counts}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    add_data_arguments(parser)
    parser.add_argument("--encoders", nargs="+", default=["hashing"], choices=("hashing", "minilm"))
    parser.add_argument("--cold-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0, help="the cold items and random placement")
    parser.add_argument("--warm-tolerance", type=float, default=WARM_TOLERANCE)
    parser.add_argument("--work", type=Path, default=Path("build/cold-eval"), help="caches")
    parser.add_argument("--out", type=Path, default=Path("build/cold-eval-report.json"))
    args, config = parse(parser, argv)
    source = data_source(args, parser.error)
    t_start = time.time()

    # data: the split, the vocabulary of the train split, the cold items spliced out of it
    split = read_split(config, source)
    vocab = ItemVocab.from_sessions(split.train)
    n_items = len(vocab)
    cold = choose_cold(n_items, args.cold_fraction, args.seed)  # (n_items,)
    warm_rows, cold_rows = np.flatnonzero(~cold), np.flatnonzero(cold)
    train = splice(encode(vocab, split.train).sessions, cold, min_length=2)
    valid, test = encode(vocab, split.valid), encode(vocab, split.test)
    dataset = {
        "name": source.describe() or "synthetic",
        "split": config.split,
        "purpose": "cold-eval: trained on train, validation chooses, test reports",
        "n_items": n_items,
        "cold_items": len(cold_rows),
        "train_sessions": train.n_sessions,
        "train_events": train.n_events,
        "valid_predictions": valid.sessions.n_predictions,
        "test_sessions": test.sessions.n_sessions,
        "test_predictions": test.sessions.n_predictions,
        "test_dropped_events": test.dropped_events,
    }
    print("data:", dataset)

    # the model: trained once, on warm items only (cold rows have no events, so no gradient)
    data = Prepared(vocab, train, valid, train.item_counts(n_items), dataset)
    cold_ids = [vocab.item_ids[row] for row in cold_rows.tolist()]
    checkpoint = trained(config, data, cold_ids, args.work / "model.pt")
    model = model_from_checkpoint(checkpoint)
    embedding = model.item_embedding.weight.detach().numpy()  # (n_items, H)
    bias = model.item_bias.weight.detach().numpy()[:, 0]  # (n_items,)
    rows = folded_item_vectors(embedding, bias)  # (n_items, H + 1)

    # the warm-only model: its warm recall is what the projected one must stay near
    t0 = time.time()
    states, targets = gru_states(model, test.sessions, embedding, skip=cold)
    shared = {"warm_only": split_metrics(rank_rows(states, targets, rows, cold), cold[targets])}
    # random placement: each cold item borrows a random warm item's vector, input and row
    borrowed = rows.copy()
    borrowed[cold_rows] = rows[np.random.default_rng(args.seed).choice(warm_rows, len(cold_rows))]
    states, targets = gru_states(model, test.sessions, borrowed[:, :-1])
    shared["random"] = split_metrics(rank_rows(states, targets, borrowed), cold[targets])
    print(f"warm-only and random: {time.time() - t0:.0f} s")

    titles = item_titles(config)
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {"-": shared}
    details: dict[str, Any] = {}
    for kind in args.encoders:
        t0 = time.time()
        try:
            content, encoder_params = content_vectors(
                config, kind, vocab.item_ids, titles, args.work
            )
        except ImportError as error:  # MiniLM needs its export module and transformers
            print(f"{kind}: unavailable ({error})")
            details[kind] = {"unavailable": str(error)}
            continue
        name = encoder_params["name"]

        # the projection, judged on validation states of warm items (cold spliced out)
        warm_valid = splice(valid.sessions, cold, min_length=2)
        states, targets = gru_states(model, warm_valid, embedding)
        position = np.full(n_items, -1, dtype=np.int64)  # row -> its place among the warm rows
        position[warm_rows] = np.arange(len(warm_rows))
        projection = choose_projection(
            content[warm_rows],
            rows[warm_rows],
            states,
            position[targets],
            seed=args.seed,
            warm_tolerance=args.warm_tolerance,
            ranked_steps=ranked_snapshots(config.projection_ranked_steps),
        )
        # projected: the rows the bundle would serve, the projection's own bias shift included
        served = rows.copy()
        served[cold_rows] = projection.apply(content[cold_rows])
        states, targets = gru_states(model, test.sessions, served[:, :-1])
        variants = {"projected": split_metrics(rank_rows(states, targets, served), cold[targets])}

        # for information: the test frontier over every shift the projection tried
        unshifted = rows.copy()
        unshifted[cold_rows] = projection.with_bias_shift(0.0).apply(content[cold_rows])
        choice = projection.shift_choice
        shifts = np.array([point["shift"] for point in choice["frontier"]], dtype=np.float32)
        test_frontier = frontier(states, targets, unshifted, cold, shifts)

        # content-kNN: its window chosen on validation cold targets
        tune = valid.sessions.select(np.arange(valid.sessions.n_sessions) < KNN_TUNE_SESSIONS)
        knn_table = {}
        for window in KNN_WINDOWS:
            ranks, knn_targets = knn_ranks(ContentKNN.fit(content, window), tune)
            knn_table[window] = recall_at_20(ranks[cold[knn_targets]])
        window = max(knn_table, key=lambda w: knn_table[w])
        knn = ContentKNN.fit(content, window)
        ranks, knn_targets = knn_ranks(knn, test.sessions)
        variants["content_knn"] = split_metrics(ranks, cold[knn_targets])

        # the blend: cold items score model + shift + weight x content-kNN (cold_blend.py)
        blend = blend_on_validation(
            model, tune, embedding, rows, unshifted, cold, knn, shifts, args.warm_tolerance
        )
        ranks = blended_ranks(
            states, targets, unshifted, cold, knn, test.sessions, [blend.shift], [blend.weight]
        )[0, 0]
        variants["blended"] = split_metrics(ranks, cold[targets])
        results[name] = variants
        details[name] = {
            "encoder": encoder_params,
            "projection": projection.describe(),
            "bias_shift": {
                "chosen": projection.bias_shift,
                "chosen_sd": choice["shift_sd"],
                "chosen_index": choice["chosen"],
                "shifts_sd": choice["shifts_sd"],
                "test_frontier": test_frontier,
            },
            "content_knn": {"window": window, "validation_cold_recall@20": knn_table},
            "blend": asdict(blend),
            "seconds": time.time() - t0,
        }
        print(
            f"{name}: {projection.kind} {projection.params}, shift {choice['shift_sd']} sd, "
            f"kNN window {window}, blend {blend}, {time.time() - t0:.0f} s"
        )

    report = {
        "command": " ".join(["python -m models.cold_eval", *(argv or sys.argv[1:])]),
        "dataset": dataset,
        "config": config.to_dict(),
        "cold_fraction": args.cold_fraction,
        "seed": args.seed,
        "warm_tolerance": args.warm_tolerance,
        "train_seconds": checkpoint["train_seconds"],
        "results": results,
        "encoders": details,
        "seconds": time.time() - t_start,
    }
    print(format_table(results))
    warm_bar = (1.0 - args.warm_tolerance) * shared["warm_only"]["warm"]["recall@20"]
    for name, detail in details.items():
        if "bias_shift" in detail:
            print("\n" + format_frontier(name, detail["bias_shift"], warm_bar))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{time.time() - t_start:.0f} s; report: {args.out}")
    return report


if __name__ == "__main__":
    main()
