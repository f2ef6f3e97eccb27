"""Raw data to the training sessions and the held-out sessions, with the item vocabulary.

Two purposes: "tune" trains on train and holds out validation (hyperparameter search);
"final" trains on train + validation and holds out test (the reported table). Explicit,
already split files are taken as they are. The vocabulary comes from the training
sessions only; held-out events whose item it lacks are dropped and counted. The items'
titles (the content of the uploads' cold start) come from the config's titles file, or from
the generated catalogue.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from models.config import TrainConfig
from models.readers import read_event_log, read_sequences
from models.sessions import RawSession, Sessions
from models.split import split_by_time, split_by_user_mod
from models.synthetic import SyntheticConfig, synthetic_titles, write_event_log
from models.titles import read_titles
from models.vocab import Encoded, ItemVocab, encode

Purpose = Literal["tune", "final"]
ROOT = Path(__file__).resolve().parents[1]  # config paths are relative to the repository


@dataclass(frozen=True, slots=True)
class Prepared:
    vocab: ItemVocab
    train: Sessions
    held_out: Encoded  # validation when tuning, test for the final model
    item_counts: npt.NDArray[np.int64]  # (n_items,) occurrences in the training sessions
    dataset: dict[str, Any]  # provenance and counts, copied into the manifest


def synthetic_config(config: TrainConfig) -> SyntheticConfig:
    return SyntheticConfig(
        n_users=config.synthetic_users,
        n_items=config.synthetic_items,
        n_topics=config.synthetic_topics,
        seed=config.seed,
    )


def item_titles(config: TrainConfig) -> dict[str, str]:
    """{item id: title}: the titles file, else the generated catalogue's, else none."""
    if config.titles:
        return read_titles(ROOT / config.titles)  # an absolute path stays itself
    if config.synthetic_users > 0:
        return synthetic_titles(synthetic_config(config))
    return {}


def read_raw(config: TrainConfig, path: Path | None) -> list[RawSession]:
    """The sessions of one file, or of a generated log when the config asks for one."""
    if config.synthetic_users > 0:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "synthetic.tsv"
            write_event_log(log, synthetic_config(config))
            return read_event_log(log, idle_gap_s=config.idle_gap_s)
    if path is None:
        raise ValueError("a data file is needed (or synthetic_users > 0 in the config)")
    if config.data_format == "sequences":
        return read_sequences(path)
    return read_event_log(path, idle_gap_s=config.idle_gap_s)


def _describe(config: TrainConfig, path: Path | None) -> str:
    if config.synthetic_users > 0:
        return f"synthetic({config.synthetic_users} users, {config.synthetic_items} items)"
    return path.name if path is not None else "?"


def build(
    train_raw: list[RawSession],
    held_raw: list[RawSession],
    description: dict[str, Any],
    base_vocab: ItemVocab | None = None,
) -> Prepared:
    """Encode both sides with the training items (appended to `base_vocab` when resuming)."""
    vocab = ItemVocab.from_sessions(train_raw)
    if base_vocab is not None:
        vocab = base_vocab.extended(vocab.item_ids)
    train = encode(vocab, train_raw, min_length=2).sessions
    held_out = encode(vocab, held_raw, min_length=1)
    counts = train.item_counts(len(vocab))
    dataset = {
        **description,
        "train_sessions": train.n_sessions,
        "train_events": train.n_events,
        "n_items": len(vocab),
        "held_out_sessions": held_out.sessions.n_sessions,
        "held_out_predictions": held_out.sessions.n_predictions,
        "held_out_dropped_events": held_out.dropped_events,
    }
    return Prepared(vocab, train, held_out, counts, dataset)


def prepare(
    config: TrainConfig, path: Path | None, purpose: Purpose, base_vocab: ItemVocab | None = None
) -> Prepared:
    """Split one data set by the config's rule and build the sessions for `purpose`."""
    raw = read_raw(config, path)
    split = split_by_user_mod(raw) if config.split == "user_mod" else split_by_time(raw)
    train_raw = split.train if purpose == "tune" else split.train + split.valid
    held_raw = split.valid if purpose == "tune" else split.test
    description = {
        "name": _describe(config, path),
        "split": config.split,
        "purpose": purpose,
        "held_out": "valid" if purpose == "tune" else "test",
    }
    return build(train_raw, held_raw, description, base_vocab)


def prepare_files(config: TrainConfig, train_path: Path, held_out_path: Path) -> Prepared:
    """Explicit, already split files (a published benchmark split), used as they are."""
    description = {
        "name": f"{train_path.name} | {held_out_path.name}",
        "split": "files",
        "purpose": "final",
        "held_out": held_out_path.name,
    }
    return build(read_raw(config, train_path), read_raw(config, held_out_path), description)
