"""Raw data to the training sessions and the held-out sessions, with the item vocabulary.

Two purposes: "tune" trains on train and holds out validation (hyperparameter search);
"final" trains on train + validation and holds out test (the reported table). Explicit,
already split files (`DataSource`) are taken as they are. The vocabulary comes from the training
sessions only; held-out events whose item it lacks are dropped and counted. The items'
titles (the content of the uploads' cold start) come from the config's titles file, or from
the generated catalogue.
"""

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from models.command_line import DataSource
from models.config import TrainConfig
from models.readers import detect_format, read_event_log, read_sequences
from models.sessions import RawSession, Sessions
from models.split import Split, split_as_configured, split_rule
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
    """The sessions of one file (its format detected unless the config names it), or of a
    generated log when the config asks for one."""
    if config.synthetic_users > 0:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "synthetic.tsv"
            write_event_log(log, synthetic_config(config))
            return read_event_log(log, idle_gap_s=config.idle_gap_s)
    if path is None:
        raise ValueError("a data file is needed (or synthetic_users > 0 in the config)")
    data_format = detect_format(path) if config.data_format == "auto" else config.data_format
    if data_format == "sequences":
        return read_sequences(path)
    return read_event_log(path, idle_gap_s=config.idle_gap_s)


def read_split(config: TrainConfig, source: DataSource) -> Split:
    """Train, validation and test sessions: the split files as they are, else one file (or
    the generated log) cut by the config's rule."""
    if source.split_files:
        return Split(
            read_raw(config, source.train),
            read_raw(config, source.valid) if source.valid else [],
            read_raw(config, source.test) if source.test else [],
        )
    return split_as_configured(config, read_raw(config, source.data))


def _describe(config: TrainConfig, source: DataSource) -> str:
    if config.synthetic_users > 0:
        return f"synthetic({config.synthetic_users} users, {config.synthetic_items} items)"
    return source.describe() or "?"


def _held_out_file(source: DataSource, purpose: Purpose) -> str:
    """What to blame when the held-out side is empty: the file, or the file and its rule."""
    named = source.valid if purpose == "tune" else source.test
    if source.split_files:
        return str(named) if named else f"--{'valid' if purpose == 'tune' else 'test'}"
    return str(source.data or "the generated log")


def _split_rule(config: TrainConfig, split: Split) -> str:
    if split_rule(config, [*split.train, *split.valid, *split.test]) == "user_mod":
        return "split=user_mod (session id % 10: 0 test, 1 validation)"
    days = f"test the last {config.test_days:g} days, validation the {config.valid_days:g} before"
    return f"split=time ({days})"


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
    config: TrainConfig,
    source: DataSource,
    purpose: Purpose,
    base_vocab: ItemVocab | None = None,
) -> Prepared:
    """The sessions for `purpose`; a side left empty is an error before any training."""
    split = read_split(config, source)
    held_name = "validation" if purpose == "tune" else "test"
    train_raw = split.train if purpose == "tune" else split.train + split.valid
    held_raw = split.valid if purpose == "tune" else split.test
    where = _held_out_file(source, purpose)
    rule = "" if source.split_files else f" by {_split_rule(config, split)}"
    if not held_raw:
        raise ValueError(f"{where}: no {held_name} sessions{rule}")
    if not train_raw:
        raise ValueError(f"{source.train or where}: no training sessions{rule}")
    description = {
        "name": _describe(config, source),
        "split": "files" if source.split_files else config.split,
        "purpose": purpose,
        "held_out": "valid" if purpose == "tune" else "test",
        "source": {k: str(v) for k, v in dataclasses.asdict(source).items() if v is not None},
    }
    prepared = build(train_raw, held_raw, description, base_vocab)
    if prepared.train.n_events == 0:
        raise ValueError(f"{source.train or where}: no training session has two events")
    if prepared.held_out.sessions.n_predictions == 0:
        raise ValueError(
            f"{where}: the {len(held_raw)} {held_name} sessions{rule} leave no event to predict "
            f"({prepared.held_out.dropped_events} events dropped: items training lacks)"
        )
    return prepared
