"""MiniLMEncoder: a pretrained sentence encoder (all-MiniLM-L6-v2) in ONNX Runtime.

The bundle carries the graph (exported by models/minilm_export.py: BERT, attention-masked
mean pooling, L2 normalisation) and its WordPiece vocabulary; the service tokenizes with
app/content/wordpiece.py and runs the graph in batches of similar length, so that padding
stays short. A title without any word piece is the zero vector, as in the hashing encoder.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from app.bundle import CONTENT_ENCODER_FILE, CONTENT_VOCAB_FILE, BundleMismatch
from app.content.wordpiece import WordPiece

KIND = "minilm"
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "content"
DEFAULT_MAX_TOKENS = 128
DEFAULT_BATCH_SIZE = 32


class MiniLMEncoder:
    """One ORT session and an immutable tokenizer: safe from several threads at once."""

    __slots__ = ("_batch_size", "_dim", "_name", "_session", "_tokenizer")

    def __init__(self, bundle_dir: Path, params: dict[str, Any], intra_op_threads: int = 1) -> None:
        self._tokenizer = WordPiece(
            bundle_dir / CONTENT_VOCAB_FILE, int(params.get("max_tokens", DEFAULT_MAX_TOKENS))
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(bundle_dir / CONTENT_ENCODER_FILE),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._dim = _check_graph(self._session)
        self._name = str(params.get("name", KIND))
        self._batch_size = int(params.get("batch_size", DEFAULT_BATCH_SIZE))

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, titles: Sequence[str]) -> npt.NDArray[np.float32]:
        """(n,) titles -> (n, dim) unit vectors (zero for a title without word pieces)."""
        vectors = np.zeros((len(titles), self._dim), dtype=np.float32)
        tokens = [self._tokenizer.encode(title) for title in titles]
        rows = [row for row, ids in enumerate(tokens) if len(ids) > 2]  # more than [CLS] [SEP]
        rows.sort(key=lambda row: len(tokens[row]))  # similar lengths share a batch
        for start in range(0, len(rows), self._batch_size):
            batch = rows[start : start + self._batch_size]
            width = len(tokens[batch[-1]])
            input_ids = np.full((len(batch), width), self._tokenizer.pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(batch), width), dtype=np.int64)
            for i, row in enumerate(batch):
                input_ids[i, : len(tokens[row])] = tokens[row]
                attention_mask[i, : len(tokens[row])] = 1
            feeds = dict(zip(INPUTS, (input_ids, attention_mask), strict=True))
            vectors[batch] = self._session.run([OUTPUT], feeds)[0]
        return vectors


def _check_graph(session: ort.InferenceSession) -> int:
    """The graph's output dimension, once its inputs and output are the ones fed and read."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    names = tuple(node.name for node in inputs)
    types = tuple(node.type for node in inputs)
    if names != INPUTS or types != ("tensor(int64)",) * 2:
        raise BundleMismatch(
            f"{CONTENT_ENCODER_FILE} takes {names} of types {types}, "
            f"but the service feeds {INPUTS} as int64"
        )
    shape = outputs[0].shape if len(outputs) == 1 else []
    if outputs[0].name != OUTPUT or len(shape) != 2 or not isinstance(shape[1], int):
        raise BundleMismatch(
            f"{CONTENT_ENCODER_FILE} returns {[node.name for node in outputs]} "
            f"shaped {shape}, but the service reads {OUTPUT!r} (batch, dim)"
        )
    dim: int = shape[1]
    return dim
