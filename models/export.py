"""Checkpoint -> bundle directory (ONNX steps, FAISS index, item files, content, manifest).

    python -m models.export --checkpoint build/checkpoints/model.pt --out bundles/microlens \
        [--data DATA] [--report build/report.json] [--version V] [--clusters 32] \
        [--content-items uploads.csv]

The bundle is written to a temporary directory beside `--out` and renamed into place, so
a reader never sees half a bundle. Parity: the exported graphs stepped by ONNX Runtime must
follow PyTorch's states (the vector step fed an item's own embedding included), the
projection graph its numpy form, and FAISS's top-20 must be PyTorch's top-20 (or, for a
catalogue large enough to get an approximate index, is measured). The index is chosen by
`models.index_choice` on session states: held-out sessions when the caller has them,
popularity-drawn ones otherwise. The content projection (models/content_export.py) is judged
on training sessions: `--data` rebuilds them (a generated log needs none). `--content-items`
(an item,title CSV) appends the titled items the checkpoint lacks, projected, popularity 0.
"""

import argparse
import json
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import torch

from app.bundle import (
    CLUSTERS_FILE,
    ENCODER_FILES,
    INDEX_FILE,
    ITEM_IDS_FILE,
    MANIFEST_FILE,
    POPULARITY_FILE,
    PROJECTION_FILE,
    PROJECTION_INPUT,
    PROJECTION_OUTPUT,
    STEP_FILE,
    STEP_INPUTS,
    STEP_OUTPUT,
    VECTOR_STEP_FILE,
    VECTOR_STEP_INPUTS,
    Manifest,
    sha256_file,
)
from models import config as config_module
from models.command_line import add_data_arguments, data_source, given_or_recorded, use_threads
from models.content_export import (
    Content,
    append_content_items,
    fit_content,
    training_sessions,
)
from models.gru4rec import GRU4Rec
from models.index_choice import IndexPlan, choose_index
from models.item_index import folded_item_vectors, item_clusters, query_vectors
from models.onnx_step import export_step, export_vector_step
from models.prepare import prepare
from models.projection import Projection
from models.sessions import Sessions
from models.titles import read_titles
from models.train import Checkpoint, load_checkpoint, model_from_checkpoint

DEFAULT_PLAN = IndexPlan()


@dataclass(frozen=True, slots=True)
class ReusedContent:
    content: Content
    encoder_dir: Path  # a bundle holding the encoder's files


@dataclass(frozen=True, slots=True)
class Parity:
    steps: int  # (session, position) states compared
    max_abs_hidden_diff: float  # ONNX Runtime vs PyTorch, over every compared state
    max_abs_vector_step_diff: float  # the vector step fed each item's embedding vs the row step
    top_k: int
    same_top_k_sets: float  # share of states whose FAISS top-k set equals PyTorch's
    same_top_k_order: float  # share whose ordered top-k lists are identical


@torch.no_grad()
def check_parity(model: GRU4Rec, bundle_dir: Path, sessions: Sessions, top_k: int = 20) -> Parity:
    """Step whole sessions through ONNX Runtime and PyTorch side by side, from a zero state."""
    step = ort.InferenceSession(str(bundle_dir / STEP_FILE), providers=["CPUExecutionProvider"])
    vector_step = ort.InferenceSession(
        str(bundle_dir / VECTOR_STEP_FILE), providers=["CPUExecutionProvider"]
    )
    embeddings = model.item_embedding.weight.detach().numpy()  # (n_items, H)
    index = faiss.read_index(str(bundle_dir / INDEX_FILE))
    max_diff, max_vector_diff, n_steps, same_set, same_order = 0.0, 0.0, 0, 0, 0
    for s in range(sessions.n_sessions):
        start, end = sessions.offsets[s], sessions.offsets[s + 1]
        hidden_torch = torch.zeros(1, model.hidden_size)
        hidden_onnx = np.zeros((1, model.hidden_size), dtype=np.float32)
        for event in range(start, end):
            item = sessions.items[event : event + 1]
            weight = sessions.weights[event : event + 1]
            hidden_torch = model.step(
                torch.from_numpy(item), torch.from_numpy(weight), hidden_torch
            )
            feeds = dict(zip(STEP_INPUTS, (item, weight, hidden_onnx), strict=True))
            vector_feeds = dict(
                zip(VECTOR_STEP_INPUTS, (embeddings[item], weight, hidden_onnx), strict=True)
            )
            by_vector = vector_step.run([STEP_OUTPUT], vector_feeds)[0]
            hidden_onnx = step.run([STEP_OUTPUT], feeds)[0]
            max_diff = max(max_diff, float(np.abs(hidden_onnx - hidden_torch.numpy()).max()))
            max_vector_diff = max(max_vector_diff, float(np.abs(by_vector - hidden_onnx).max()))
            expected = torch.topk(model.score_all(hidden_torch)[0], top_k).indices.numpy()
            _, found = index.search(query_vectors(hidden_torch.numpy()), top_k)
            same_set += int(set(found[0].tolist()) == set(expected.tolist()))
            same_order += int(np.array_equal(found[0], expected))
            n_steps += 1
    return Parity(
        n_steps,
        max_diff,
        max_vector_diff,
        top_k,
        same_set / max(n_steps, 1),
        same_order / max(n_steps, 1),
    )


@torch.no_grad()
def session_states(
    model: GRU4Rec, sessions: Sessions, n_states: int, seed: int = 0
) -> npt.NDArray[np.float32]:
    """(<= n_states, H) states after each event of sessions taken in a seeded random order."""
    states: list[npt.NDArray[np.float32]] = []
    for s in np.random.default_rng(seed).permutation(sessions.n_sessions).tolist():
        hidden = torch.zeros(1, model.hidden_size)
        for event in range(sessions.offsets[s], sessions.offsets[s + 1]):
            item = torch.from_numpy(sessions.items[event : event + 1])
            hidden = model.step(item, torch.from_numpy(sessions.weights[event : event + 1]), hidden)
            states.append(hidden.numpy()[0])
            if len(states) == n_states:
                return np.stack(states)
    return np.stack(states)


def sample_sessions(
    item_counts: npt.NDArray[np.int64], n_sessions: int, length: int, seed: int
) -> Sessions:
    """Sessions drawn by popularity with random weights: inputs for a numerical check."""
    rng = np.random.default_rng(seed)
    p = item_counts / item_counts.sum()
    items = rng.choice(len(item_counts), size=(n_sessions, length), p=p).tolist()
    weights = rng.random((n_sessions, length)).astype(np.float32).tolist()
    return Sessions.from_lists(items, weights)


def default_version(checkpoint: Checkpoint) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", str(checkpoint["dataset"]["name"]).lower()).strip("-")
    return f"{name[:40]}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def write_bundle_files(
    model: GRU4Rec,
    checkpoint: Checkpoint,
    directory: Path,
    n_clusters: int,
    query_sessions: Sessions,
    plan: IndexPlan,
) -> tuple[dict[str, Any], bool]:
    """Every bundle file but the manifest and the content files; returns the index description
    and whether the step holds precomputed input gates (models/onnx_step.py)."""
    input_gates = export_step(model, directory / STEP_FILE)
    export_vector_step(model, directory / VECTOR_STEP_FILE)
    embeddings = model.item_embedding.weight.detach().numpy()  # (n_items, H)
    bias = model.item_bias.weight.detach().numpy()[:, 0]  # (n_items,)
    vectors = folded_item_vectors(embeddings, bias)
    queries = query_vectors(session_states(model, query_sessions, plan.n_queries, plan.seed))
    index, description = choose_index(vectors, queries, plan)
    faiss.write_index(index, str(directory / INDEX_FILE))
    (directory / ITEM_IDS_FILE).write_text(json.dumps(checkpoint["item_ids"]))
    np.save(directory / POPULARITY_FILE, checkpoint["item_counts"].numpy().astype(np.int64))
    clusters = item_clusters(embeddings, n_clusters, seed=checkpoint["config"]["seed"])
    np.save(directory / CLUSTERS_FILE, clusters)
    return description, input_gates


def export(
    checkpoint: Checkpoint,
    out: Path,
    metrics: dict[str, Any] | None = None,
    version: str | None = None,
    n_clusters: int = 32,
    query_sessions: Sessions | None = None,
    plan: IndexPlan = DEFAULT_PLAN,
    train_sessions: Sessions | None = None,
    content_items: dict[str, str] | None = None,
    content: ReusedContent | None = None,
    parity_sessions: int = 16,
) -> tuple[Manifest, Parity]:
    """Write the bundle to `out` (replacing it) and return its manifest and parity figures.

    `query_sessions` (held-out sessions) give the states an approximate index is measured on;
    `train_sessions` those the projection is judged on (rebuilt for a generated log);
    `content_items` ({item id: title}) add the titled items the checkpoint lacks.
    `content`: an encoder and projection made already, the encoder's files copied from a
    bundle (the learner's versions: no encoder export, no projection search).
    `parity_sessions`: sessions of 20 popularity-drawn events the parity check steps.
    """
    model = model_from_checkpoint(checkpoint)
    if model.state_size != model.hidden_size:
        raise ValueError("an attention model is evaluated, not served: no bundle holds one")
    counts = checkpoint["item_counts"].numpy()
    if query_sessions is None:
        query_sessions = sample_sessions(counts, plan.n_queries // 20 + 1, 20, seed=1)
    if train_sessions is None:
        train_sessions = training_sessions(checkpoint)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        if content is None:
            chosen = fit_content(model, checkpoint, staging, train_sessions)
        else:
            chosen = content.content
            for name in ENCODER_FILES[chosen.description["encoder"]["kind"]]:
                shutil.copyfile(content.encoder_dir / name, staging / name)
        chosen.projection.write_onnx(staging / PROJECTION_FILE)
        checkpoint, n_content_only = append_content_items(
            model, checkpoint, content_items or {}, chosen
        )
        index_info, input_gates = write_bundle_files(
            model, checkpoint, staging, n_clusters, query_sessions, plan
        )
        probe = sample_sessions(counts, parity_sessions, 20, seed=0)
        parity = check_parity(model, staging, probe)
        manifest = Manifest(
            version=version or default_version(checkpoint),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            hidden_size=model.hidden_size,
            n_items=model.n_items,
            n_clusters=int(np.load(staging / CLUSTERS_FILE).max()) + 1,
            index=index_info,
            model=checkpoint["config"],
            dataset=checkpoint["dataset"],
            metrics=metrics or {},
            files={p.name: sha256_file(p) for p in sorted(staging.iterdir())},
            content={**chosen.description, "n_content_only": n_content_only},
            extra={
                "step_input_gates": input_gates,
                "parity": {
                    **asdict(parity),
                    "projection_max_abs_diff": projection_parity(chosen.projection, staging),
                },
            },
        )
        (staging / MANIFEST_FILE).write_text(manifest.to_json())
        readable_by_all(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest, parity


def projection_parity(projection: Projection, bundle_dir: Path, n: int = 64) -> float:
    """Max |ONNX - numpy| of the projection graph on seeded unit content vectors."""
    session = ort.InferenceSession(
        str(bundle_dir / PROJECTION_FILE), providers=["CPUExecutionProvider"]
    )
    content = np.random.default_rng(0).standard_normal((n, projection.content_dim))
    content = (content / np.linalg.norm(content, axis=1, keepdims=True)).astype(np.float32)
    by_onnx = session.run([PROJECTION_OUTPUT], {PROJECTION_INPUT: content})[0]
    return float(np.abs(by_onnx - projection.apply(content)).max())


def readable_by_all(directory: Path) -> None:
    """0755 and 0644 whatever the umask and mkdtemp's 0700: the service's container runs as
    its own uid (10001), not as whoever built the bundle."""
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o755 if path.is_dir() else 0o644)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, default=None, help="evaluate.py's JSON report")
    parser.add_argument("--version", default=None)
    parser.add_argument("--clusters", type=int, default=32)
    add_data_arguments(parser)
    parser.add_argument("--content-items", type=Path, default=None, help="item,title CSV")
    args = parser.parse_intermixed_args()
    given = data_source(args, parser.error)
    metrics = json.loads(args.report.read_text())["results"] if args.report else None
    checkpoint = load_checkpoint(args.checkpoint)
    use_threads(int(checkpoint["config"].get("threads", 0)))
    train_sessions = None
    source = given_or_recorded(given, checkpoint["dataset"])
    if source.data or source.train:
        config = config_module.TrainConfig(**checkpoint["config"])
        purpose = checkpoint["dataset"].get("purpose", "final")
        data = prepare(config, source, purpose)
        if list(data.vocab.item_ids) != checkpoint["item_ids"][: len(data.vocab)]:
            parser.error(f"{source.describe()} does not rebuild the checkpoint's vocabulary")
        train_sessions = data.train
    content_items = read_titles(args.content_items) if args.content_items else None
    manifest, parity = export(
        checkpoint,
        args.out,
        metrics,
        args.version,
        args.clusters,
        train_sessions=train_sessions,
        content_items=content_items,
    )
    index = {key: manifest.index.get(key) for key in ("type", "params", "recall_at_100")}
    print(f"bundle {manifest.version} -> {args.out}; index {index}; parity: {parity}")


if __name__ == "__main__":
    main()
