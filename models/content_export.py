"""The content part of a bundle: the encoder's files, the projection, the content-only items.

An upload is served through its title: the bundle's encoder turns it into a content vector
and the projection, fitted here on the trained items (models/projection.py), maps that into
[embedding | bias]. The encoders are the service's own (app/content/), run here on the same
files the bundle ships, so that export and service compute the same vectors. Items that
have a title but no interactions (uploads exported from the service) can be appended as rows
of their own, their projected vector standing in for a trained one.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from app.content.encoder import ContentEncoder
from app.content.hashing import HashingEncoder
from app.content.minilm import MiniLMEncoder
from models.command_line import DataSource
from models.config import TrainConfig
from models.gru4rec import GRU4Rec
from models.item_index import folded_item_vectors
from models.prepare import item_titles, prepare
from models.projection import Projection, choose_projection
from models.ranked_projection import ranked_snapshots
from models.sessions import Sessions
from models.train import Checkpoint

PROJECTION_STATES = 20_000  # session states the projection is judged on (held-out items' share)


@dataclass(frozen=True, slots=True)
class Content:
    encoder: ContentEncoder
    projection: Projection
    description: dict[str, Any]  # manifest.content, but for n_content_only


def write_encoder(config: TrainConfig, directory: Path) -> tuple[ContentEncoder, dict[str, Any]]:
    """The configured encoder, its files written to `directory`, and its manifest entry."""
    if config.content_encoder == "hashing":
        hashing = HashingEncoder(config.content_dim)
        return hashing, hashing.params()
    # imported here: transformers takes seconds to import, and only MiniLM bundles need it
    from models.minilm_export import export_minilm

    params = export_minilm(directory)
    return MiniLMEncoder(directory, params, intra_op_threads=max(config.threads, 1)), params


def training_sessions(checkpoint: Checkpoint) -> Sessions:
    """The sessions the checkpoint was trained on, rebuilt from its config (generated logs)."""
    config = TrainConfig(**checkpoint["config"])
    if config.synthetic_users == 0:
        raise ValueError(
            "the projection is judged on the training sessions: pass them (models.export --data)"
        )
    data = prepare(config, DataSource(), checkpoint["dataset"].get("purpose", "final"))
    if list(data.vocab.item_ids) != checkpoint["item_ids"][: len(data.vocab)]:
        raise ValueError("the generated log does not rebuild the checkpoint's vocabulary")
    return data.train


@torch.no_grad()
def transitions(
    model: GRU4Rec, sessions: Sessions, n_states: int, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """(m, H) states after an event and (m,) the item that came next, m <= n_states.

    Sessions are taken in a seeded random order, all of each session's transitions at once.
    """
    states: list[npt.NDArray[np.float32]] = []
    next_rows: list[npt.NDArray[np.int64]] = []
    for s in np.random.default_rng(seed).permutation(sessions.n_sessions).tolist():
        start, end = int(sessions.offsets[s]), int(sessions.offsets[s + 1])
        hidden = torch.zeros(1, model.hidden_size)
        rows = []
        for event in range(start, end - 1):
            item = torch.from_numpy(sessions.items[event : event + 1])
            hidden = model.step(item, torch.from_numpy(sessions.weights[event : event + 1]), hidden)
            rows.append(hidden.numpy()[0])
        if rows:
            states.append(np.stack(rows))
            next_rows.append(sessions.items[start + 1 : end])
        if sum(len(block) for block in states) >= n_states:
            break
    if not states:
        return np.zeros((0, model.hidden_size), np.float32), np.zeros(0, np.int64)
    return np.concatenate(states)[:n_states], np.concatenate(next_rows)[:n_states]


def fit_content(
    model: GRU4Rec,
    checkpoint: Checkpoint,
    directory: Path,
    sessions: Sessions,
    n_states: int = PROJECTION_STATES,
) -> Content:
    """Write the encoder's files and choose the projection on the trained items."""
    config = TrainConfig(**checkpoint["config"])
    encoder, encoder_params = write_encoder(config, directory)
    titles = item_titles(config)
    item_ids: list[str] = checkpoint["item_ids"]
    trained = np.flatnonzero(checkpoint["item_counts"].numpy() > 0)  # (n,) rows with events
    content = encoder.encode([titles.get(item_ids[row], "") for row in trained.tolist()])
    targets = folded_item_vectors(
        model.item_embedding.weight.detach().numpy()[trained],
        model.item_bias.weight.detach().numpy()[trained, 0],
    )
    states, next_rows = transitions(model, sessions, n_states, config.seed)
    position = np.full(len(item_ids), -1, dtype=np.int64)  # row -> its place among `trained`
    position[trained] = np.arange(len(trained))
    projection = choose_projection(
        content,
        targets,
        states,
        position[next_rows],
        seed=config.seed,
        ranked_steps=ranked_snapshots(config.projection_ranked_steps),
    )
    description = {
        "encoder": encoder_params,
        "projection": {
            **projection.describe(),
            "fitted_items": len(trained),
            "titled_items": int(sum(1 for row in trained.tolist() if titles.get(item_ids[row]))),
            "states": {
                "sessions": f"training ({checkpoint['dataset'].get('purpose', 'final')})",
                "sample": "seeded random order of sessions, every transition of each",
                "n_states": len(states),
                "seed": config.seed,
            },
        },
    }
    return Content(encoder, projection, description)


def append_content_items(
    model: GRU4Rec, checkpoint: Checkpoint, titles: dict[str, str], content: Content
) -> tuple[Checkpoint, int]:
    """Rows for the titled items the checkpoint lacks, at the end; the model grows in place.

    Their [embedding | bias] is the projection of their title and their popularity 0, as an
    upload's is in the service. Returns the checkpoint over the grown catalogue and the count.
    """
    known = set(checkpoint["item_ids"])
    new_ids = [item_id for item_id in titles if item_id not in known]
    if not new_ids:
        return checkpoint, 0
    vectors = content.projection.apply(content.encoder.encode([titles[i] for i in new_ids]))
    n_old = model.n_items
    model.grow(n_old + len(new_ids))
    with torch.no_grad():
        model.item_embedding.weight[n_old:] = torch.from_numpy(vectors[:, :-1])
        model.item_bias.weight[n_old:, 0] = torch.from_numpy(vectors[:, -1])
    grown = {
        **checkpoint,
        "model": model.state_dict(),
        "item_ids": [*checkpoint["item_ids"], *new_ids],
        "item_counts": torch.cat(
            [checkpoint["item_counts"], torch.zeros(len(new_ids), dtype=torch.int64)]
        ),
    }
    return grown, len(new_ids)
