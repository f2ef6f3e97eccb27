"""Encode throughput of the content encoders on one thread, and the size of MiniLM's files.

    python -m models.encoder_bench \
        [--titles ../shared/data/microlens50k/MicroLens-50k_titles.csv.gz]
        [--n 1000] [--int8]

Both encoders run as the service runs them (app/content/), one ORT thread, on the first `n`
titles; each figure is the best of `--repeats` passes. `--int8` also measures ONNX Runtime's
dynamic int8 quantization of MiniLM's MatMuls (per channel), and its agreement with float32:
cosine of the two vectors of each title, and the overlap of each title's 10 nearest titles.
"""

import argparse
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.bundle import CONTENT_ENCODER_FILE, CONTENT_VOCAB_FILE
from app.content.encoder import ContentEncoder
from app.content.hashing import HashingEncoder
from app.content.minilm import MiniLMEncoder
from models.minilm_export import export_minilm
from models.titles import read_titles

DEFAULT_TITLES = Path("../shared/data/microlens50k/MicroLens-50k_titles.csv.gz")


def titles_per_second(
    encoder: ContentEncoder, titles: Sequence[str], repeats: int
) -> tuple[npt.NDArray[np.float32], float]:
    encoder.encode(titles[:32])  # ORT plans its buffers on the first runs
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        vectors = encoder.encode(titles)
        best = min(best, time.perf_counter() - t0)
    return vectors, len(titles) / best


def neighbour_overlap(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], k: int = 10) -> float:
    """Mean share of each row's k nearest rows (by cosine) that a and b agree on."""
    nearest = []
    for vectors in (a, b):
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -np.inf)
        nearest.append(np.argsort(-similarity, axis=1)[:, :k])
    shared = [len(set(x) & set(y)) / k for x, y in zip(*nearest, strict=True)]
    return float(np.mean(shared))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=Path, default=DEFAULT_TITLES)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--int8", action="store_true")
    args = parser.parse_args()
    titles = list(read_titles(args.titles).values())[: args.n]
    print(f"{len(titles)} titles of {args.titles.name}, one thread")
    _, rate = titles_per_second(HashingEncoder(), titles, args.repeats)
    print(f"hashing-4096: {rate:.0f} titles/s")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        params = export_minilm(directory)
        for name in (CONTENT_ENCODER_FILE, CONTENT_VOCAB_FILE):
            print(f"{name}: {(directory / name).stat().st_size / 1e6:.1f} MB")
        full, rate = titles_per_second(MiniLMEncoder(directory, params, 1), titles, args.repeats)
        print(f"{params['name']} float32: {rate:.0f} titles/s")
        if not args.int8:
            return
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = directory / "int8"
        quantized.mkdir()
        shutil.copy(directory / CONTENT_VOCAB_FILE, quantized)
        quantize_dynamic(
            directory / CONTENT_ENCODER_FILE,
            quantized / CONTENT_ENCODER_FILE,
            per_channel=True,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
        )
        size_mb = (quantized / CONTENT_ENCODER_FILE).stat().st_size / 1e6
        small, rate = titles_per_second(MiniLMEncoder(quantized, params, 1), titles, args.repeats)
        cosine = (full * small).sum(axis=1)
        print(
            f"{params['name']} int8 ({size_mb:.1f} MB): {rate:.0f} titles/s; cosine to float32 "
            f"mean {cosine.mean():.4f}, min {cosine.min():.4f}; "
            f"10-nearest overlap {neighbour_overlap(full, small):.3f}"
        )


if __name__ == "__main__":
    main()
