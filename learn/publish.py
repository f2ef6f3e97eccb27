"""Publish = export a new version directory, check it, flip the served symlink, prune.

The services watch one path (NEXTSWIPE_BUNDLE), a symlink to a directory under `versions`.
A version is exported beside the others (models/export.py writes a hidden staging directory
and renames it into place), its parity figures are checked, and only then is the link
re-pointed: a new link is made and renamed over the old one, one atomic step, so that a
service always finds a whole bundle behind the path. The last `keep` versions stay (a
rollback is one `ln -sfn`); older ones and staging left by a crash are removed.
"""

import os
import shutil
from pathlib import Path
from typing import Any

from learn.state import fsync_directory
from models.export import ReusedContent, export
from models.sessions import Sessions
from models.train import Checkpoint

MAX_HIDDEN_DIFF = 1e-4  # ONNX Runtime against PyTorch, any state of the parity probe
MIN_SAME_TOP_K = 0.99  # FAISS's top-20 set against PyTorch's
PARITY_SESSIONS = 4  # x 20 steps: a few seconds of a round, where 16 took 13 s on MicroLens


class ParityFailed(RuntimeError):
    """The exported graphs or index disagree with the trained model: never served."""


def flip(link: Path, target: Path) -> None:
    """Point `link` at `target` in one rename; the directory entry is fsynced."""
    if link.exists() and not link.is_symlink():
        raise ValueError(f"{link} is a directory, not the symlink the learner re-points")
    temporary = link.parent / f".{link.name}.{os.getpid()}.new"
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), temporary)
    os.replace(temporary, link)
    fsync_directory(link.parent)


def prune(versions: Path, link: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` versions (never the served one) and crash leftovers."""
    served = link.resolve() if link.exists() else None
    removed = []
    for leftover in versions.glob(".*"):
        if leftover.is_dir():  # a staging directory of an export that was killed
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    found = sorted(
        (p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
    )
    for old in found[: max(len(found) - keep, 0)]:
        if old.resolve() != served:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def publish(
    checkpoint: Checkpoint,
    versions: Path,
    link: Path,
    version: str,
    metrics: dict[str, Any],
    train_sessions: Sessions,
    query_sessions: Sessions | None,
    keep: int,
    content: ReusedContent | None = None,
) -> Path:
    """The new version's directory, now served; ParityFailed leaves the old one served."""
    out = versions / version
    _, parity = export(
        checkpoint,
        out,
        metrics,
        version,
        query_sessions=query_sessions if query_sessions and query_sessions.n_sessions else None,
        train_sessions=train_sessions,
        content=content,
        parity_sessions=PARITY_SESSIONS,
    )
    if parity.max_abs_hidden_diff > MAX_HIDDEN_DIFF or parity.same_top_k_sets < MIN_SAME_TOP_K:
        shutil.rmtree(out, ignore_errors=True)
        raise ParityFailed(f"version {version}: {parity}")
    flip(link, out)
    prune(versions, link, keep)
    return out
