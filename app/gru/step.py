"""GruStep: the ONNX Runtime sessions that move a session's GRU state by one swipe.

The swipe path calls `step` once per applied event on a bundle item (gru_step.onnx looks up
its trained embedding) and `step_vector` on an upload, whose embedding is the projection of
its content (gru_step_vector.onnx takes the vector). Both graphs are checked at startup
against the names and hidden size the service expects.
"""

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from app.bundle import (
    STEP_FILE,
    STEP_INPUTS,
    STEP_OUTPUT,
    VECTOR_STEP_FILE,
    VECTOR_STEP_INPUTS,
    BundleMismatch,
    Manifest,
)

INPUT_TYPES = ("tensor(int64)", "tensor(float)", "tensor(float)")  # aligned with STEP_INPUTS
VECTOR_INPUT_TYPES = ("tensor(float)",) * 3  # aligned with VECTOR_STEP_INPUTS


class GruStep:
    """Safe to call from several threads at once: ORT sessions are, and no buffer is shared."""

    __slots__ = ("_hidden_size", "_session", "_vector_session", "_zero")

    def __init__(self, bundle_dir: Path, manifest: Manifest, intra_op_threads: int = 1) -> None:
        if manifest.step_inputs != STEP_INPUTS or manifest.step_output != STEP_OUTPUT:
            raise BundleMismatch(
                f"the manifest names step inputs {manifest.step_inputs} and output "
                f"{manifest.step_output!r}, but the service feeds {STEP_INPUTS} "
                f"and reads {STEP_OUTPUT!r}"
            )
        self._session = _open(bundle_dir / STEP_FILE, intra_op_threads)
        _check_graph(self._session, STEP_FILE, STEP_INPUTS, INPUT_TYPES, manifest.hidden_size)
        self._vector_session = _open(bundle_dir / VECTOR_STEP_FILE, intra_op_threads)
        _check_graph(
            self._vector_session,
            VECTOR_STEP_FILE,
            VECTOR_STEP_INPUTS,
            VECTOR_INPUT_TYPES,
            manifest.hidden_size,
        )
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
        rows = np.array([item_row], dtype=np.int64)
        moved = self.step_many(self._batch_of(hidden), rows, np.array([weight], np.float32))
        return moved.reshape(-1)  # (1, H) -> (H,)

    def step_vector(
        self,
        hidden: npt.NDArray[np.float32] | None,
        item_vector: npt.NDArray[np.float32],
        weight: float,
    ) -> npt.NDArray[np.float32]:
        """(H,) state -> (H,) state after one event on an item given by its (H,) embedding.

        For an item the bundle has no row for (an upload): `item_vector` is the embedding
        part of its projected [embedding | bias]. None is the zero state.
        """
        if item_vector.shape != (self._hidden_size,):
            raise ValueError(
                f"item_vector must have shape ({self._hidden_size},), got {item_vector.shape}"
            )
        vectors = np.ascontiguousarray(item_vector, np.float32).reshape(1, -1)
        weights = np.array([weight], np.float32)
        moved = self.step_vectors(self._batch_of(hidden), vectors, weights)
        return moved.reshape(-1)  # (1, H) -> (H,)

    def step_many(
        self,
        hidden: npt.NDArray[np.float32],
        item_rows: npt.NDArray[np.int64],
        weights: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        """(b, H) states, (b,) rows, (b,) weights -> (b, H): b sessions in one run (MicroLens,
        loadtest.batch_costs: 470 us alone, 130 us per session in fours, 60 in sixteens)."""
        feeds = {STEP_INPUTS[0]: item_rows, STEP_INPUTS[1]: weights, STEP_INPUTS[2]: hidden}
        new_hidden: npt.NDArray[np.float32] = self._session.run([STEP_OUTPUT], feeds)[0]
        return new_hidden

    def step_vectors(
        self,
        hidden: npt.NDArray[np.float32],
        item_vectors: npt.NDArray[np.float32],
        weights: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float32]:
        """(b, H) states, (b, H) item embeddings, (b,) weights -> (b, H)."""
        feeds = {
            VECTOR_STEP_INPUTS[0]: item_vectors,
            VECTOR_STEP_INPUTS[1]: weights,
            VECTOR_STEP_INPUTS[2]: hidden,
        }
        new_hidden: npt.NDArray[np.float32] = self._vector_session.run([STEP_OUTPUT], feeds)[0]
        return new_hidden

    def _batch_of(self, hidden: npt.NDArray[np.float32] | None) -> npt.NDArray[np.float32]:
        """(H,) or None -> the (1, H) float32 batch the graphs take."""
        if hidden is None:
            return self._zero
        if hidden.shape != (self._hidden_size,):
            raise ValueError(f"hidden must have shape ({self._hidden_size},), got {hidden.shape}")
        return np.ascontiguousarray(hidden, dtype=np.float32).reshape(1, -1)


def _open(path: Path, intra_op_threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _check_graph(
    session: ort.InferenceSession,
    file_name: str,
    expected_inputs: tuple[str, ...],
    expected_types: tuple[str, ...],
    hidden_size: int,
) -> None:
    """Refuse a graph that the service would feed wrongly, before the first request does."""
    inputs = session.get_inputs()
    names = tuple(node.name for node in inputs)
    if names != expected_inputs:
        raise BundleMismatch(
            f"{file_name} takes inputs {names}, but the service feeds {expected_inputs}"
        )
    outputs = tuple(node.name for node in session.get_outputs())
    if outputs != (STEP_OUTPUT,):
        raise BundleMismatch(
            f"{file_name} returns {outputs}, but the service reads ({STEP_OUTPUT!r},)"
        )
    types = tuple(node.type for node in inputs)
    if types != expected_types:
        raise BundleMismatch(f"{file_name} input types are {types}, expected {expected_types}")
    sized = [inputs[2], session.get_outputs()[0]]
    if expected_types[0] == "tensor(float)":
        sized.append(inputs[0])  # the item vector is an embedding of the hidden size
    for node in sized:
        if len(node.shape) != 2 or node.shape[1] != hidden_size:
            raise BundleMismatch(
                f"{file_name} {node.name!r} has shape {node.shape}, "
                f"but the manifest says hidden size {hidden_size}"
            )
