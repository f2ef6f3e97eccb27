"""Export GRU4Rec's step as ONNX graphs with named inputs and a dynamic batch axis.

The service steps a session's state with these graphs only. gru_step.onnx: item_row (b,)
int64, weight (b,) float32, hidden (b, H) float32 -> new_hidden (b, H) float32.
gru_step_vector.onnx, the same step on an item given by its embedding (an upload's projected
one): item_vector (b, H) float32 in place of item_row.
"""

from pathlib import Path

import torch
from torch import nn

from app.bundle import STEP_INPUTS, STEP_OUTPUT, VECTOR_STEP_INPUTS
from models.gru4rec import GRU4Rec
from models.quiet_export import quiet_exporter

OPSET = 18


class _Step(nn.Module):
    """Exposes step() as forward(), which is what the exporter traces."""

    def __init__(self, model: GRU4Rec) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, item_row: torch.Tensor, weight: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        return self.model.step(item_row, weight, hidden)


class _VectorStep(_Step):
    """Exposes step_vector() as forward()."""

    def forward(
        self, item_vector: torch.Tensor, weight: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        return self.model.step_vector(item_vector, weight, hidden)


def _export(
    module: nn.Module, example: tuple[torch.Tensor, ...], names: tuple[str, ...], path: Path
) -> None:
    batch = torch.export.Dim("batch")
    with quiet_exporter():
        torch.onnx.export(
            module.eval(),
            example,
            str(path),
            input_names=list(names),
            output_names=[STEP_OUTPUT],
            dynamic_shapes=({0: batch}, {0: batch}, {0: batch}),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def export_step(model: GRU4Rec, path: Path) -> None:
    example = (torch.tensor([0, 1]), torch.tensor([1.0, 0.5]), torch.zeros(2, model.hidden_size))
    _export(_Step(model), example, STEP_INPUTS, path)


def export_vector_step(model: GRU4Rec, path: Path) -> None:
    hidden_size = model.hidden_size
    example = (torch.randn(2, hidden_size), torch.tensor([1.0, 0.5]), torch.zeros(2, hidden_size))
    _export(_VectorStep(model), example, VECTOR_STEP_INPUTS, path)
