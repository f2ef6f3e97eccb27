"""One round of incremental training: the checkpoint, continued on this round's sessions.

New events are learned from the state their session's context leads to (joiner.py), beside
a replay sample of older sessions learned from zero (against forgetting). Items the
vocabulary lacks grow it: their rows start from the projection of their title where the
catalogue has one (content.py), else from the usual initialisation.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from learn.joiner import Fragment
from models.config import TrainConfig
from models.gru4rec import GRU4Rec
from models.sessions import Sessions
from models.train import Checkpoint, resume_model, train_epochs
from models.vocab import ItemVocab


@dataclass(frozen=True, slots=True)
class Rows:
    """Fragments as rows of one vocabulary: whole sequences, and where learning starts."""

    sessions: Sessions
    n_context: npt.NDArray[np.int64]  # (n_sessions,) events stepped only for the state

    def trimmed(self) -> Sessions:
        """Each session from its first learned input on."""
        items, weights = [], []
        for s in range(self.sessions.n_sessions):
            start, end = (
                int(self.sessions.offsets[s] + self.n_context[s]),
                int(self.sessions.offsets[s + 1]),
            )
            items.append(self.sessions.items[start:end].tolist())
            weights.append(self.sessions.weights[start:end].tolist())
        return Sessions.from_lists(items, weights)


def as_rows(vocab: ItemVocab, fragments: Sequence[Fragment]) -> Rows:
    """Every item must be in `vocab`."""
    items, weights, n_context = [], [], []
    for fragment in fragments:
        ids, ws, context = fragment.sequence()
        items.append(vocab.rows(ids))
        weights.append(ws)
        n_context.append(context)
    return Rows(Sessions.from_lists(items, weights), np.array(n_context, dtype=np.int64))


@torch.no_grad()
def context_states(model: GRU4Rec, rows: Rows) -> torch.Tensor:
    """(n_sessions, H): the state after each session's context, all sessions in parallel."""
    sessions = rows.sessions
    hidden = torch.zeros(sessions.n_sessions, model.hidden_size)
    for t in range(int(rows.n_context.max(initial=0))):
        active = np.flatnonzero(rows.n_context > t)
        events = sessions.offsets[active] + t
        hidden[active] = model.step(
            torch.from_numpy(sessions.items[events]),
            torch.from_numpy(sessions.weights[events]),
            hidden[active],
        )
    return hidden


def grow_rows(model: GRU4Rec, first: int, vectors: Mapping[int, npt.NDArray[np.float32]]) -> None:
    """Rows from `first` on that have a projected [embedding | bias] start from it."""
    with torch.no_grad():
        for row, vector in vectors.items():
            if row >= first:
                model.item_embedding.weight[row] = torch.from_numpy(vector[:-1])
                model.item_bias.weight[row, 0] = float(vector[-1])


def learn_round(
    checkpoint: Checkpoint,
    train: Sequence[Fragment],
    replay: Sequence[Fragment],
    epochs: int,
    seed: int,
    projected: Mapping[str, npt.NDArray[np.float32]],
) -> tuple[Checkpoint, float, int]:
    """(the continued checkpoint, mean loss per event, rows grown). `projected` holds the
    [embedding | bias] of titled items, by id, for rows the vocabulary gains."""
    config = TrainConfig(**{**checkpoint["config"], "n_epochs": epochs, "seed": seed})
    old = ItemVocab(tuple(checkpoint["item_ids"]))
    fragments = [*train, *replay]
    vocab = old.extended(i for f in fragments for i in (*f.context_items, *f.items))
    model, optimizer = resume_model(config, checkpoint, len(vocab))
    grow_rows(
        model,
        len(old),
        {
            vocab.row(i): v
            for i, v in projected.items()
            if i in vocab.row_of and vocab.row(i) >= len(old)
        },
    )
    counts = np.zeros(len(vocab), dtype=np.int64)
    counts[: len(old)] = checkpoint["item_counts"].numpy()
    for fragment in train:  # popularity for the negative sampler: what this round adds
        np.add.at(counts, vocab.rows(fragment.items), 1)
    rows = as_rows(vocab, fragments)
    initial = context_states(model, rows)
    losses = train_epochs(
        config, model, optimizer, rows.trimmed(), counts, progress=False, initial=initial
    )
    continued = {
        **checkpoint,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "item_ids": list(vocab.item_ids),
        "item_counts": torch.from_numpy(counts),
        "epoch_losses": losses,
    }
    return continued, losses[-1] if losses else float("nan"), len(vocab) - len(old)
