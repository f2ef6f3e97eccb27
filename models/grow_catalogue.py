"""Grow a trained checkpoint to N items: the extra items are new uploads of existing kinds.

    python -m models.grow_catalogue --checkpoint build/checkpoints/catalogue1m-base.pt \
        --items 1000000 --out bundles/catalogue1m [--report build/catalogue1m-base-report.json]

What a catalogue of a million items costs to serve (index, memory, latency) needs a million
items embedded the way a trained model embeds them: clustered, not uniform noise. No data
set at hand has a million items, so the extra items are synthetic, derived from a trained
model: each copies a trained parent (drawn uniformly) in [embedding | bias] and moves off it
by Gaussian noise of `noise_scale` times the parent's neighbourhood radius, the RMS
distance to its nearest trained items. Nobody ever swiped them (popularity 0: they are
cold), the GRU weights are unchanged, and the offline metrics in the manifest are the
trained catalogue's. The grown checkpoint is exported by `models.export` like any other.
"""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
import torch

from models.command_line import add_data_arguments, data_source, given_or_recorded, use_threads
from models.config import TrainConfig
from models.export import export
from models.item_index import folded_item_vectors
from models.prepare import prepare
from models.train import Checkpoint, load_checkpoint, resume_model


@dataclass(frozen=True, slots=True)
class Growth:
    checkpoint: Checkpoint  # the trained items first, in their rows, then the new ones
    parents: npt.NDArray[np.int64]  # (n_new,) the trained row each new item was drawn around


def neighbourhood_radius(
    vectors: npt.NDArray[np.float32], neighbours: int
) -> npt.NDArray[np.float32]:
    """(n,) RMS Euclidean distance of each row to its `neighbours` nearest other rows."""
    k = min(neighbours + 1, len(vectors))  # the first hit is the row itself
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(vectors)
    squared, _ = index.search(vectors, k)  # (n, k) squared distances, ascending
    radius: npt.NDArray[np.float32] = np.sqrt(squared[:, 1:].mean(axis=1))
    return radius


def new_item_ids(known: list[str], n_new: int) -> list[str]:
    ids = [f"x{j:07d}" for j in range(n_new)]
    if not set(ids).isdisjoint(known):
        raise ValueError("the trained catalogue already uses ids of the form x0000000")
    return ids


def grow_checkpoint(
    checkpoint: Checkpoint,
    n_items: int,
    seed: int = 0,
    noise_scale: float = 0.5,
    neighbours: int = 10,
) -> Growth:
    """The checkpoint grown to `n_items` rows; trained rows, GRU and optimiser state kept."""
    n_trained = len(checkpoint["item_ids"])
    n_new = n_items - n_trained
    if n_new < 0:
        raise ValueError(f"the checkpoint already holds {n_trained} > {n_items} items")
    config = TrainConfig(**checkpoint["config"])
    model, optimizer = resume_model(config, checkpoint, n_items)  # new rows start as noise
    weights = model.item_embedding.weight.detach()  # (n_items, H), shares storage
    bias = model.item_bias.weight.detach()  # (n_items, 1)
    trained = folded_item_vectors(weights[:n_trained].numpy(), bias[:n_trained, 0].numpy())
    rng = np.random.default_rng(seed)
    parents = rng.integers(0, n_trained, n_new)
    dim = trained.shape[1]
    scale = noise_scale * neighbourhood_radius(trained, neighbours) / np.sqrt(dim)  # per axis
    for start in range(0, n_new, 1 << 16):  # in blocks: a million (H + 1) floats at once is 0.5 GB
        block = parents[start : start + (1 << 16)]
        noise = rng.standard_normal((len(block), dim), dtype=np.float32)
        grown = trained[block] + scale[block, None] * noise
        rows = slice(n_trained + start, n_trained + start + len(block))
        weights[rows] = torch.from_numpy(grown[:, :-1])
        bias[rows, 0] = torch.from_numpy(grown[:, -1])
    counts = torch.cat([checkpoint["item_counts"], torch.zeros(n_new, dtype=torch.int64)])
    dataset = {
        **checkpoint["dataset"],
        "name": f"{checkpoint['dataset']['name']} grown to {n_items} items",
        "n_items": n_items,
        "trained_items": n_trained,
        "growth": {
            "synthetic_items": n_new,
            "method": "parent + Gaussian noise, noise_scale x neighbourhood radius",
            "noise_scale": noise_scale,
            "neighbours": neighbours,
            "seed": seed,
        },
    }
    grown_checkpoint = {
        **checkpoint,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "item_ids": [*checkpoint["item_ids"], *new_item_ids(checkpoint["item_ids"], n_new)],
        "item_counts": counts,
        "dataset": dataset,
    }
    return Growth(grown_checkpoint, parents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--items", type=int, required=True, help="catalogue size after growth")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, default=None, help="the base model's report")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-scale", type=float, default=0.5)
    parser.add_argument("--clusters", type=int, default=32)
    parser.add_argument("--version", default=None)
    add_data_arguments(parser)
    args = parser.parse_intermixed_args()
    given = data_source(args, parser.error)
    base = load_checkpoint(args.checkpoint)
    config = TrainConfig(**base["config"])
    use_threads(config.threads)
    # the base model's held-out sessions: the session states the index is measured on
    data = prepare(config, given_or_recorded(given, base["dataset"]), "final")
    if list(data.vocab.item_ids) != base["item_ids"]:
        raise ValueError("the data do not rebuild the checkpoint's vocabulary")
    growth = grow_checkpoint(base, args.items, args.seed, args.noise_scale)
    results = json.loads(args.report.read_text())["results"] if args.report else {}
    manifest, parity = export(
        growth.checkpoint,
        args.out,
        {"trained_catalogue": results},
        args.version,
        args.clusters,
        query_sessions=data.held_out.sessions,
    )
    size_mb = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    print(f"bundle {manifest.version} -> {args.out} ({size_mb:.1f} MB)")
    print(json.dumps(manifest.index, indent=2))
    print(f"parity: {parity}")


if __name__ == "__main__":
    main()
