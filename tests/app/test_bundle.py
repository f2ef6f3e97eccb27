"""The service refuses a bundle whose files disagree with its manifest."""

import json
import shutil
from pathlib import Path

import pytest

from app.bundle import (
    CONTENT_ENCODER_FILE,
    CONTENT_VOCAB_FILE,
    INDEX_FILE,
    MANIFEST_FILE,
    PROJECTION_FILE,
    STEP_FILE,
    VECTOR_STEP_FILE,
    BundleMismatch,
    verify_bundle,
)
from tests.conftest import TinyBundle


@pytest.fixture
def bundle_copy(tiny_bundle: TinyBundle, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_bundle.path, tmp_path / "bundle"))


def test_intact_bundle_verifies(bundle_copy: Path) -> None:
    assert verify_bundle(bundle_copy).version == "tiny-test"


def test_tampered_file_is_refused(bundle_copy: Path) -> None:
    with (bundle_copy / INDEX_FILE).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(BundleMismatch, match="items.faiss has sha256"):
        verify_bundle(bundle_copy)


def test_missing_file_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / STEP_FILE).unlink()
    with pytest.raises(BundleMismatch, match="gru_step.onnx is listed in the manifest but missing"):
        verify_bundle(bundle_copy)


def test_malformed_manifest_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(BundleMismatch, match="malformed"):
        verify_bundle(bundle_copy)


def test_other_format_version_is_refused(bundle_copy: Path) -> None:
    raw = json.loads((bundle_copy / MANIFEST_FILE).read_text())
    raw["format_version"] = 99
    (bundle_copy / MANIFEST_FILE).write_text(json.dumps(raw))
    with pytest.raises(BundleMismatch, match="bundle format 99"):
        verify_bundle(bundle_copy)


def test_no_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleMismatch, match="no manifest.json"):
        verify_bundle(tmp_path)


def _rewrite_manifest(bundle: Path, **changes: object) -> None:
    path = bundle / MANIFEST_FILE
    raw = json.loads(path.read_text())
    raw.update(changes)
    path.write_text(json.dumps(raw))


def test_bundle_of_the_first_format_is_refused(bundle_copy: Path) -> None:
    _rewrite_manifest(bundle_copy, format_version=1)
    with pytest.raises(BundleMismatch, match="bundle format 1 is not the supported 2"):
        verify_bundle(bundle_copy)


def test_manifest_without_a_content_encoder_is_refused(bundle_copy: Path) -> None:
    _rewrite_manifest(bundle_copy, content={})
    with pytest.raises(BundleMismatch, match="content encoder kind is None"):
        verify_bundle(bundle_copy)


@pytest.mark.parametrize("name", [VECTOR_STEP_FILE, PROJECTION_FILE])
def test_manifest_without_the_upload_graphs_is_refused(bundle_copy: Path, name: str) -> None:
    files = json.loads((bundle_copy / MANIFEST_FILE).read_text())["files"]
    del files[name]
    _rewrite_manifest(bundle_copy, files=files)
    with pytest.raises(BundleMismatch, match=f"lists no hash for {name}"):
        verify_bundle(bundle_copy)


def test_minilm_bundle_must_list_its_encoder_files(bundle_copy: Path) -> None:
    content = json.loads((bundle_copy / MANIFEST_FILE).read_text())["content"]
    content["encoder"] = {"kind": "minilm", "name": "all-MiniLM-L6-v2", "dim": 384}
    _rewrite_manifest(bundle_copy, content=content)
    expected = f"lists no hash for {CONTENT_ENCODER_FILE}, {CONTENT_VOCAB_FILE}"
    with pytest.raises(BundleMismatch, match=expected):
        verify_bundle(bundle_copy)
