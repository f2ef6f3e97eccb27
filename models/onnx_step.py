"""Export GRU4Rec.step as an ONNX graph with named inputs and a dynamic batch axis.

The service steps a session's state with this graph only: inputs item_row (b,) int64,
weight (b,) float32, hidden (b, H) float32; output new_hidden (b, H) float32.
"""

import warnings
from pathlib import Path

import torch
from torch import nn

from app.bundle import STEP_INPUTS, STEP_OUTPUT
from models.gru4rec import GRU4Rec

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


def export_step(model: GRU4Rec, path: Path) -> None:
    step = _Step(model).eval()
    example = (torch.tensor([0, 1]), torch.tensor([1.0, 0.5]), torch.zeros(2, model.hidden_size))
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        # torch's own exporter internals warn about their deprecated APIs; not ours to fix
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        torch.onnx.export(
            step,
            example,
            str(path),
            input_names=list(STEP_INPUTS),
            output_names=[STEP_OUTPUT],
            dynamic_shapes=({0: batch}, {0: batch}, {0: batch}),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
