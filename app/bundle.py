"""The bundle: the one contract between `models/` (which writes it) and `app/` (which serves it).

A bundle is a directory holding the ONNX step graphs, the FAISS item index, the item ids,
their popularity and clusters, the content encoder and its projection into the model's item
space (uploads: app/content/), and `manifest.json`, which records the version, the
dimensions, the graphs' input and output names, the offline metrics and the sha256 of
every other file. A bundle whose files disagree with its manifest is refused.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 2  # 2: content encoder, projection and vector step (uploads)
MANIFEST_FILE = "manifest.json"
STEP_FILE = "gru_step.onnx"  # inputs item_row (b,) int64, weight (b,) f32, hidden (b, H) f32
INDEX_FILE = "items.faiss"  # inner product over [item embedding | item bias], dim H + 1
ITEM_IDS_FILE = "item_ids.json"  # row -> external item id
POPULARITY_FILE = "popularity.npy"  # (n_items,) int64 training occurrences, for cold start
CLUSTERS_FILE = "clusters.npy"  # (n_items,) int32 cluster of each item: the bandit's arms
EXACT_INDEX_TYPE = "flat_ip"  # manifest index type of exact search; others are factory strings
STEP_INPUTS = ("item_row", "weight", "hidden")
STEP_OUTPUT = "new_hidden"
# the same GRU step on an item given by its vector (an upload's projected embedding):
# inputs item_vector (b, H) f32, weight (b,) f32, hidden (b, H) f32; output new_hidden (b, H)
VECTOR_STEP_FILE = "gru_step_vector.onnx"
VECTOR_STEP_INPUTS = ("item_vector", "weight", "hidden")
# content space -> item space: input content (b, D) f32, output item_vector (b, H + 1) f32,
# [embedding | bias], the same layout as a row of the index
PROJECTION_FILE = "content_projection.onnx"
PROJECTION_INPUT = "content"
PROJECTION_OUTPUT = "item_vector"
# the pretrained sentence encoder's graph and WordPiece vocabulary (kind "minilm" only):
# inputs input_ids, attention_mask (b, t) int64; output content (b, D) f32, L2-normalised
CONTENT_ENCODER_FILE = "content_encoder.onnx"
CONTENT_VOCAB_FILE = "content_vocab.txt"
# the files each content encoder kind reads from the bundle, besides the projection
ENCODER_FILES = {"hashing": (), "minilm": (CONTENT_ENCODER_FILE, CONTENT_VOCAB_FILE)}


class BundleMismatch(Exception):
    """The bundle's files disagree with its manifest, or the manifest is malformed."""


@dataclass(frozen=True, slots=True)
class Manifest:
    version: str
    created_at: str  # ISO 8601, UTC
    hidden_size: int
    n_items: int
    n_clusters: int
    index: dict[str, Any]  # type, dim, search params, measured recall against exact search
    model: dict[str, Any]  # the resolved training config
    dataset: dict[str, Any]  # provenance and split counts
    metrics: dict[str, Any]  # offline metrics of the model and the baselines
    files: dict[str, str]  # file name -> sha256
    # the content encoder ({"kind": "hashing" | "minilm", "name", "dim", ...its parameters}),
    # the projection ({"kind": "ridge" | "mlp" | "neighbours", ...what chose it on held-out
    # items}) and n_content_only, the items with a title but no interactions (the last rows)
    content: dict[str, Any] = field(default_factory=dict)
    step_inputs: tuple[str, ...] = STEP_INPUTS
    step_output: str = STEP_OUTPUT
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        try:
            raw = json.loads(text)
            raw["step_inputs"] = tuple(raw["step_inputs"])
            manifest = cls(**raw)
        except (ValueError, TypeError, KeyError) as error:
            raise BundleMismatch(f"{MANIFEST_FILE} is malformed: {error}") from None
        if manifest.format_version != FORMAT_VERSION:
            raise BundleMismatch(
                f"bundle format {manifest.format_version} is not the supported {FORMAT_VERSION}"
            )
        return manifest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(bundle_dir: Path) -> Manifest:
    path = bundle_dir / MANIFEST_FILE
    if not path.is_file():
        raise BundleMismatch(f"no {MANIFEST_FILE} in {bundle_dir}")
    return Manifest.from_json(path.read_text())


def verify_bundle(bundle_dir: Path) -> Manifest:
    """The manifest, once every file it names exists and has the recorded sha256."""
    manifest = read_manifest(bundle_dir)
    encoder = manifest.content.get("encoder")
    kind = encoder.get("kind") if isinstance(encoder, dict) else None
    if kind not in ENCODER_FILES:
        raise BundleMismatch(
            f"the manifest's content encoder kind is {kind!r}, not one of {sorted(ENCODER_FILES)}"
        )
    required = {
        STEP_FILE,
        VECTOR_STEP_FILE,
        PROJECTION_FILE,
        INDEX_FILE,
        ITEM_IDS_FILE,
        POPULARITY_FILE,
        CLUSTERS_FILE,
        *ENCODER_FILES[kind],
    }
    missing = required - manifest.files.keys()
    if missing:
        raise BundleMismatch(f"the manifest lists no hash for {', '.join(sorted(missing))}")
    for name, expected in sorted(manifest.files.items()):
        path = bundle_dir / name
        if not path.is_file():
            raise BundleMismatch(f"{name} is listed in the manifest but missing from {bundle_dir}")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleMismatch(
                f"{name} has sha256 {actual[:12]}…, the manifest says {expected[:12]}…"
            )
    return manifest
