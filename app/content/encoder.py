"""ContentEncoder: what turns an upload's title into its content vector, named by the manifest.

The bundle's manifest says which encoder its projection was fitted on (content["encoder"]);
the service must encode with exactly that one, so it is built from the manifest and the
bundle's files, never chosen by a setting.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.bundle import BundleMismatch, Manifest
from app.content.hashing import KIND as HASHING
from app.content.hashing import HashingEncoder
from app.content.minilm import KIND as MINILM
from app.content.minilm import MiniLMEncoder


class ContentEncoder(Protocol):
    """Thread-safe: encode may be called from several threads at once."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, titles: Sequence[str]) -> npt.NDArray[np.float32]:
        """(n,) titles -> (n, dim) float32 content vectors."""
        ...


def load_encoder(bundle_dir: Path, manifest: Manifest, intra_op_threads: int = 1) -> ContentEncoder:
    """The encoder of manifest.content["encoder"], checked against the dimension it records."""
    params = manifest.content.get("encoder")
    if not isinstance(params, dict) or "kind" not in params or "dim" not in params:
        raise BundleMismatch("the manifest names no content encoder (content.encoder)")
    encoder: ContentEncoder
    if params["kind"] == HASHING:
        encoder = HashingEncoder.from_params(params)
    elif params["kind"] == MINILM:
        encoder = MiniLMEncoder(bundle_dir, params, intra_op_threads)
    else:
        raise BundleMismatch(f"unknown content encoder kind {params['kind']!r}")
    if encoder.dim != params["dim"]:
        raise BundleMismatch(
            f"the content encoder gives {encoder.dim} dimensions, the manifest says {params['dim']}"
        )
    return encoder
