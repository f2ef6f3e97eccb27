"""The learner's last refitted projection, kept on disk so that a restart does not refit.

A refit (an MLP's or a ranked projection's) takes about a minute on one core; a learner that
restarts after a crash and refits before its first publish adds that minute to the lag of
every swipe waiting for it. The cache is one .npz (arrays) with its description (JSON) and
when it was fitted; missing or unreadable, the learner simply refits. Written to a temporary
name and renamed, so that a crash leaves the old cache or the new one.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np

from models.projection import Feedforward, Layer, Neighbours, Projection


def save_refit(path: Path, projection: Projection, description: dict[str, Any], at: float) -> None:
    mapping = projection.mapping
    if isinstance(mapping, Feedforward):
        arrays = {f"weight{i}": layer.weight for i, layer in enumerate(mapping.layers)}
        arrays |= {f"bias{i}": layer.bias for i, layer in enumerate(mapping.layers)}
        shape: dict[str, Any] = {"mapping": "feedforward", "layers": len(mapping.layers)}
    else:
        arrays = {"content": mapping.content, "rows": mapping.rows, "mean_row": mapping.mean_row}
        shape = {"mapping": "neighbours", "k": mapping.k, "tau": mapping.tau}
    meta = {
        **shape,
        "kind": projection.kind,
        "params": projection.params,
        "bias_shift": projection.bias_shift,
        "description": description,
        "at": at,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(temporary, allow_pickle=False, **arrays)
    temporary.replace(path)


def load_refit(path: Path) -> tuple[Projection, dict[str, Any], float] | None:
    """(projection, description, when it was fitted), or None where there is none to use."""
    if not path.exists():
        return None
    try:
        with np.load(path) as saved:
            meta = json.loads(str(saved["meta"]))
            if meta["mapping"] == "feedforward":
                layers = tuple(
                    Layer(saved[f"weight{i}"], saved[f"bias{i}"]) for i in range(meta["layers"])
                )
                mapping: Feedforward | Neighbours = Feedforward(layers)
            else:
                mapping = Neighbours(
                    saved["content"], saved["rows"], saved["mean_row"], meta["k"], meta["tau"]
                )
    except (OSError, ValueError, KeyError):
        return None  # a cache, not a checkpoint: refitting is always correct
    projection = Projection(meta["kind"], mapping, meta["params"], bias_shift=meta["bias_shift"])
    return projection, meta["description"], float(meta["at"])
