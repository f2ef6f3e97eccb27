"""Projection: content vectors into the model's item space, by the bundle's ONNX graph.

Fitted at export on the trained items (models/projection.py), it maps an upload's content
vector to [embedding | bias], the layout of a row of the FAISS index: the embedding is what
the GRU steps on when the upload is swiped, the whole row is what retrieval scores.
"""

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from app.bundle import (
    PROJECTION_FILE,
    PROJECTION_INPUT,
    PROJECTION_OUTPUT,
    BundleMismatch,
    Manifest,
)


class Projection:
    """One ORT session; safe to call from several threads at once."""

    __slots__ = ("_content_dim", "_session")

    def __init__(self, bundle_dir: Path, manifest: Manifest, intra_op_threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(bundle_dir / PROJECTION_FILE),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        encoder = manifest.content.get("encoder", {})
        self._content_dim = int(encoder.get("dim", -1)) if isinstance(encoder, dict) else -1
        _check_graph(self._session, self._content_dim, manifest.hidden_size + 1)

    @property
    def content_dim(self) -> int:
        return self._content_dim

    def project(self, content: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(n, D) content vectors -> (n, H + 1) item vectors [embedding | bias]."""
        if content.ndim != 2 or content.shape[1] != self._content_dim:
            raise ValueError(
                f"content must have shape (n, {self._content_dim}), got {content.shape}"
            )
        feeds = {PROJECTION_INPUT: np.ascontiguousarray(content, dtype=np.float32)}
        vectors: npt.NDArray[np.float32] = self._session.run([PROJECTION_OUTPUT], feeds)[0]
        return vectors


def _check_graph(session: ort.InferenceSession, content_dim: int, item_dim: int) -> None:
    """Refuse a projection that disagrees with the encoder or the index it sits between."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    names = (tuple(node.name for node in inputs), tuple(node.name for node in outputs))
    if names != ((PROJECTION_INPUT,), (PROJECTION_OUTPUT,)):
        raise BundleMismatch(
            f"{PROJECTION_FILE} maps {names[0]} to {names[1]}, "
            f"but the service feeds ({PROJECTION_INPUT!r},) and reads ({PROJECTION_OUTPUT!r},)"
        )
    for node, dim, what in ((inputs[0], content_dim, "content"), (outputs[0], item_dim, "item")):
        if node.type != "tensor(float)" or len(node.shape) != 2 or node.shape[1] != dim:
            raise BundleMismatch(
                f"{PROJECTION_FILE} {node.name!r} is {node.type} {node.shape}, "
                f"but the manifest's {what} dimension is {dim} (float32)"
            )
