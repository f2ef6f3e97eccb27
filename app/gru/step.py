"""GruStep: one ONNX Runtime session that moves a session's GRU state by one swipe.

The swipe path calls `step` once per applied event; the graph is the bundle's
gru_step.onnx, checked at startup against the names and hidden size the service expects.
"""

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from app.bundle import STEP_FILE, STEP_INPUTS, STEP_OUTPUT, BundleMismatch, Manifest

INPUT_TYPES = ("tensor(int64)", "tensor(float)", "tensor(float)")  # aligned with STEP_INPUTS


class GruStep:
    """Safe to call from several threads at once: ORT sessions are, and no buffer is shared."""

    __slots__ = ("_hidden_size", "_session", "_zero")

    def __init__(self, bundle_dir: Path, manifest: Manifest, intra_op_threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(bundle_dir / STEP_FILE), sess_options=options, providers=["CPUExecutionProvider"]
        )
        _check_graph(self._session, manifest)
        self._hidden_size = manifest.hidden_size
        self._zero = np.zeros((1, manifest.hidden_size), dtype=np.float32)  # never written
        self._zero.flags.writeable = False

    @property
    def hidden_size(self) -> int:
        return self._hidden_size

    def step(
        self, hidden: npt.NDArray[np.float32] | None, item_row: int, weight: float
    ) -> npt.NDArray[np.float32]:
        """(H,) state -> (H,) state after one event of engagement `weight` on `item_row`.

        None is the zero state of a session with no swipes yet.
        """
        if hidden is None:
            batch_hidden = self._zero
        elif hidden.shape == (self._hidden_size,):
            batch_hidden = np.ascontiguousarray(hidden, dtype=np.float32).reshape(1, -1)
        else:
            raise ValueError(f"hidden must have shape ({self._hidden_size},), got {hidden.shape}")
        feeds = {
            STEP_INPUTS[0]: np.array([item_row], dtype=np.int64),
            STEP_INPUTS[1]: np.array([weight], dtype=np.float32),
            STEP_INPUTS[2]: batch_hidden,
        }
        new_hidden: npt.NDArray[np.float32] = self._session.run([STEP_OUTPUT], feeds)[0][0]
        return new_hidden


def _check_graph(session: ort.InferenceSession, manifest: Manifest) -> None:
    """Refuse a graph that the service would feed wrongly, before the first request does."""
    inputs = session.get_inputs()
    names = tuple(node.name for node in inputs)
    if names != STEP_INPUTS or manifest.step_inputs != STEP_INPUTS:
        raise BundleMismatch(
            f"{STEP_FILE} takes inputs {names} and the manifest names {manifest.step_inputs}, "
            f"but the service feeds {STEP_INPUTS}"
        )
    outputs = tuple(node.name for node in session.get_outputs())
    if outputs != (STEP_OUTPUT,) or manifest.step_output != STEP_OUTPUT:
        raise BundleMismatch(
            f"{STEP_FILE} returns {outputs} and the manifest names {manifest.step_output!r}, "
            f"but the service reads ({STEP_OUTPUT!r},)"
        )
    types = tuple(node.type for node in inputs)
    if types != INPUT_TYPES:
        raise BundleMismatch(f"{STEP_FILE} input types are {types}, expected {INPUT_TYPES}")
    for node in (inputs[2], session.get_outputs()[0]):
        if len(node.shape) != 2 or node.shape[1] != manifest.hidden_size:
            raise BundleMismatch(
                f"{STEP_FILE} {node.name!r} has shape {node.shape}, "
                f"but the manifest says hidden size {manifest.hidden_size}"
            )
