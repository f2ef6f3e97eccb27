"""The learner's checkpoint: model, optimiser, joiner, replay sample and log positions, as one
file that is either the old one or the new one whole.

Written to a temporary file, fsynced, renamed over the old one and the directory fsynced:
after a crash at any point the file holds one round's complete state. The log positions in
it say how far the log was trained on; the log is acknowledged only after this returns.
"""

import os
from pathlib import Path
from typing import Any

import torch

LearnerState = dict[str, Any]


def save_state(path: Path, state: LearnerState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable: the entry, not only the file, reaches the disk."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def load_state(path: Path) -> LearnerState | None:
    if not path.exists():
        return None
    state: LearnerState = torch.load(path, map_location="cpu", weights_only=True)
    return state
