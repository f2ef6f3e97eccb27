"""Train GRU4Rec on session data: config -> data -> model -> optimiser -> loop -> checkpoint.

    python -m models.train --config models/configs/microlens.toml \
        --data ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz [key=value ...]

`--purpose tune` trains on the training split only (validation held out); the default,
`final`, trains on train + validation. `--resume CKPT` continues from a checkpoint on the
given data: known items keep their rows and optimiser state, new items get fresh rows.
The checkpoint is a plain dict (config, weights, optimiser state, item ids, counts).
"""

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from tqdm import tqdm

from models.attention import AttentiveGRU4Rec
from models.batches import session_parallel_batches
from models.command_line import add_data_arguments, data_source, parse
from models.config import TrainConfig
from models.gru4rec import GRU4Rec
from models.losses import bpr, bpr_max, cross_entropy, negative_mask
from models.negatives import NegativeSampler
from models.optim import SparseAdagradMomentum
from models.prepare import Prepared, prepare
from models.sessions import Sessions
from models.vocab import ItemVocab

Checkpoint = dict[str, Any]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the learning rate or the data is at fault."""


def batch_loss(
    config: TrainConfig,
    scores: torch.Tensor,
    candidates: torch.Tensor,
    log_counts: torch.Tensor,
    n_rows: int,
) -> torch.Tensor:
    """The configured loss of one mini-batch, summed over its rows."""
    negatives = negative_mask(candidates, n_rows)
    if config.loss == "bpr-max":
        return bpr_max(scores, negatives, config.bpreg, config.elu_param)
    if config.loss == "bpr":
        return bpr(scores, negatives)
    # log-Q: a target column was drawn ~ popularity, an extra sample ~ popularity^alpha
    log_q = log_counts[candidates]
    log_q = torch.cat([log_q[:n_rows], config.sample_alpha * log_q[n_rows:]])
    return cross_entropy(scores, negatives, log_q, config.logq)


def train_epochs(
    config: TrainConfig,
    model: GRU4Rec,
    optimizer: SparseAdagradMomentum,
    train: Sessions,
    item_counts: npt.NDArray[np.int64],
    progress: bool = True,
    after_epoch: Callable[[int, GRU4Rec], None] | None = None,
    initial: torch.Tensor | None = None,
) -> list[float]:
    """Run config.n_epochs epochs in place; returns the mean loss per event of each epoch.

    `after_epoch(epoch, model)` runs after each epoch (1-based), e.g. to validate.
    `initial` (n_sessions, H) starts each session from a given state instead of zero: the
    learner continues a session whose earlier events an earlier round trained on.
    """
    rng = np.random.default_rng(config.seed)
    sampler = NegativeSampler(
        item_counts, config.n_sample, config.sample_alpha, rng, config.sample_cache_batches
    )
    log_counts = torch.from_numpy(np.log(np.maximum(item_counts, 1)).astype(np.float32))
    epoch_losses = []
    model.train()
    for epoch in range(config.n_epochs):
        order = rng.permutation(train.n_sessions) if config.shuffle else None
        hidden = torch.zeros(config.batch_size, model.state_size)
        total, events = 0.0, 0
        bar = tqdm(total=train.n_predictions, disable=not progress, unit="ev", mininterval=1.0)
        t0 = time.time()
        for batch in session_parallel_batches(train, config.batch_size, order):
            n_rows = len(batch.inputs)
            # rows continue their session's state; a new session starts from zero
            hidden = hidden.detach()[torch.from_numpy(batch.carry)]
            reset = torch.from_numpy(batch.reset)
            if initial is None:
                hidden[reset] = 0.0
            else:
                hidden[reset] = initial[torch.from_numpy(batch.session[batch.reset])]
            targets = torch.from_numpy(batch.targets)
            candidates = torch.cat([targets, torch.from_numpy(sampler.sample())])
            if len(candidates) < 2:
                break  # one row and no samples: nothing to rank against
            scores, hidden = model(
                torch.from_numpy(batch.inputs), torch.from_numpy(batch.weights), hidden, candidates
            )
            loss = batch_loss(config, scores, candidates, log_counts, n_rows)
            optimizer.zero_grad()
            (loss / config.batch_size).backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(f"epoch {epoch + 1}: loss is {value}")
            total, events = total + value, events + n_rows
            bar.update(n_rows)
            bar.set_postfix(loss=f"{total / events:.4f}", refresh=False)
        bar.close()
        epoch_losses.append(total / max(events, 1))
        if progress:
            print(
                f"epoch {epoch + 1}/{config.n_epochs}: loss {epoch_losses[-1]:.4f} "
                f"({events / (time.time() - t0):.0f} events/s)"
            )
        if after_epoch is not None:
            model.eval()
            after_epoch(epoch + 1, model)
            model.train()
    model.eval()
    return epoch_losses


def build_model(config: TrainConfig, n_items: int, dropout: bool = True) -> GRU4Rec:
    """The configured architecture: plain GRU4Rec, or with attention (attention_window > 0)."""
    embed, hidden = (config.dropout_embed, config.dropout_hidden) if dropout else (0.0, 0.0)
    if config.attention_window > 0:
        return AttentiveGRU4Rec(n_items, config.hidden_size, config.attention_window, embed, hidden)
    return GRU4Rec(n_items, config.hidden_size, embed, hidden)


def new_model(config: TrainConfig, n_items: int) -> tuple[GRU4Rec, SparseAdagradMomentum]:
    torch.manual_seed(config.seed)
    model = build_model(config, n_items)
    optimizer = SparseAdagradMomentum(
        model.parameters(), lr=config.learning_rate, momentum=config.momentum
    )
    return model, optimizer


def resume_model(
    config: TrainConfig, checkpoint: Checkpoint, n_items: int
) -> tuple[GRU4Rec, SparseAdagradMomentum]:
    """The checkpoint's model and optimiser, grown to n_items (new items appended)."""
    old_items = len(checkpoint["item_ids"])
    model, optimizer = new_model(config, old_items)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    old_state = [dict(optimizer.state[p]) for p in model.parameters()]
    model.grow(n_items)
    optimizer = SparseAdagradMomentum(
        model.parameters(), lr=config.learning_rate, momentum=config.momentum
    )
    for p, state in zip(model.parameters(), old_state, strict=True):
        for key, value in state.items():  # item tables grew: new rows start from zero
            if key in optimizer.state[p]:  # momentum may be off in the resumed config
                optimizer.state[p][key][: value.shape[0]] = value
    return model, optimizer


def make_checkpoint(
    config: TrainConfig,
    model: GRU4Rec,
    optimizer: SparseAdagradMomentum,
    data: Prepared,
    losses: list[float],
    seconds: float,
) -> Checkpoint:
    return {
        "config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "item_ids": list(data.vocab.item_ids),
        "item_counts": torch.from_numpy(data.item_counts),
        "dataset": data.dataset,
        "epoch_losses": losses,
        "train_seconds": seconds,
    }


def load_checkpoint(path: Path) -> Checkpoint:
    checkpoint: Checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return checkpoint


def model_from_checkpoint(checkpoint: Checkpoint) -> GRU4Rec:
    config = TrainConfig(**checkpoint["config"])
    model = build_model(config, len(checkpoint["item_ids"]), dropout=False)
    model.load_state_dict(checkpoint["model"])
    return model.eval()


def fit(
    config: TrainConfig, data: Prepared, resume: Checkpoint | None = None, progress: bool = True
) -> Checkpoint:
    """Train on data.train (from scratch, or on from `resume`) and return the checkpoint."""
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if resume is None:
        model, optimizer = new_model(config, len(data.vocab))
    else:
        model, optimizer = resume_model(config, resume, len(data.vocab))
    t0 = time.time()
    losses = train_epochs(config, model, optimizer, data.train, data.item_counts, progress)
    return make_checkpoint(config, model, optimizer, data, losses, time.time() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    add_data_arguments(parser)
    parser.add_argument("--purpose", choices=("tune", "final"), default="final")
    parser.add_argument("--resume", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("build/checkpoints/model.pt"))
    args, config = parse(parser, None)
    source = data_source(args, parser.error)
    print("config:", config.to_dict())
    resume = load_checkpoint(args.resume) if args.resume else None
    known = ItemVocab(tuple(resume["item_ids"])) if resume is not None else None
    try:
        data = prepare(config, source, args.purpose, base_vocab=known)
    except ValueError as error:
        parser.error(str(error))
    print("data:", data.dataset)
    checkpoint = fit(config, data, resume)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, args.out)
    print(f"trained in {checkpoint['train_seconds']:.0f} s; checkpoint: {args.out}")


if __name__ == "__main__":
    main()
