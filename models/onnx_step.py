"""Export GRU4Rec's step as ONNX graphs with named inputs and a dynamic batch axis.

The service steps a session's state with these graphs only. gru_step.onnx: item_row (b,)
int64, weight (b,) float32, hidden (b, H) float32 -> new_hidden (b, H) float32.
gru_step_vector.onnx, the same step on an item given by its embedding (an upload's projected
one): item_vector (b, H) float32 in place of item_row.

Where it fits in GATES_MAX_BYTES, gru_step.onnx holds each item's input gates E W_ih^T + b_ih
(n, 3H) instead of its embedding: the step gathers a row where it multiplied one by W_ih,
which a swipe after a feed's index scan reads cold from memory (MicroLens, after a search:
125-178 us against 208-322 us; README, cuts). The same arithmetic, reordered: within 1e-5.

The item table (gates or embeddings) is stored beside the graph, in gru_step.onnx.data (ONNX
external data): ONNX Runtime then maps that file into memory and computes on its pages, so
that every worker process on a host shares one copy through the page cache (the 1M bundle's
table is 512 MB) where an inline table is copied into each process.
"""

from pathlib import Path

import onnx
import torch
from torch import nn

from app.bundle import STEP_INPUTS, STEP_OUTPUT, VECTOR_STEP_INPUTS
from models.gru4rec import GRU4Rec
from models.quiet_export import quiet_exporter

OPSET = 18
GATES_MAX_BYTES = 256 * 2**20  # the input gates triple the step's table: MicroLens 117 MB
EXTERNAL_FROM_BYTES = 2**20  # tensors this large go to the data file (the item table does)


class _Step(nn.Module):
    """Exposes step() as forward(), which is what the exporter traces."""

    def __init__(self, model: GRU4Rec) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, item_row: torch.Tensor, weight: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        return self.model.step(item_row, weight, hidden)


class _GatesStep(nn.Module):
    """GRUCell's equations (PyTorch's gate order r, z, n) on precomputed input gates."""

    input_gates: torch.Tensor
    weight_hh: torch.Tensor
    bias_hh: torch.Tensor

    def __init__(self, model: GRU4Rec) -> None:
        super().__init__()
        cell = model.cell
        with torch.no_grad():
            gates = model.item_embedding.weight @ cell.weight_ih.T + cell.bias_ih
        self.register_buffer("input_gates", gates.detach().clone())
        self.register_buffer("weight_hh", cell.weight_hh.detach().clone())
        self.register_buffer("bias_hh", cell.bias_hh.detach().clone())

    def forward(
        self, item_row: torch.Tensor, weight: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        input_r, input_z, input_n = self.input_gates[item_row].chunk(3, dim=1)
        hidden_r, hidden_z, hidden_n = (hidden @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)
        reset = torch.sigmoid(input_r + hidden_r)
        update = torch.sigmoid(input_z + hidden_z)
        candidate = torch.tanh(input_n + reset * hidden_n)
        moved = candidate + update * (hidden - candidate)  # (1 - z) n + z h
        return hidden + weight.unsqueeze(1) * (moved - hidden)


class _VectorStep(_Step):
    """Exposes step_vector() as forward()."""

    def forward(
        self, item_vector: torch.Tensor, weight: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        return self.model.step_vector(item_vector, weight, hidden)


def _graph(
    module: nn.Module, example: tuple[torch.Tensor, ...], names: tuple[str, ...]
) -> onnx.ModelProto:
    """The module's step as an ONNX graph in memory, its weights inside: the caller decides
    how they are written (once, where the item table goes beside the graph)."""
    batch = torch.export.Dim("batch")
    with quiet_exporter():
        program = torch.onnx.export(
            module.eval(),
            example,
            None,
            input_names=list(names),
            output_names=[STEP_OUTPUT],
            dynamic_shapes=({0: batch}, {0: batch}, {0: batch}),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    assert program is not None  # the dynamo exporter always returns its program
    return program.model_proto


def export_step(model: GRU4Rec, path: Path, gates_max_bytes: int = GATES_MAX_BYTES) -> bool:
    """Write gru_step.onnx; True where it holds the input gates (they fit), else embeddings."""
    example = (torch.tensor([0, 1]), torch.tensor([1.0, 0.5]), torch.zeros(2, model.hidden_size))
    gates = model.n_items * 3 * model.hidden_size * 4 <= gates_max_bytes
    graph = _graph(_GatesStep(model) if gates else _Step(model), example, STEP_INPUTS)
    data = path.with_name(f"{path.name}.data")
    data.unlink(missing_ok=True)  # onnx appends to a data file that exists
    onnx.save_model(
        graph,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data.name,
        size_threshold=EXTERNAL_FROM_BYTES,
    )
    return gates


def export_vector_step(model: GRU4Rec, path: Path) -> None:
    hidden_size = model.hidden_size
    example = (torch.randn(2, hidden_size), torch.tensor([1.0, 0.5]), torch.zeros(2, hidden_size))
    onnx.save_model(_graph(_VectorStep(model), example, VECTOR_STEP_INPUTS), str(path))
