"""ItemVocab maps external ids to the bundle's rows and back, and refuses a bad id file."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from app.bundle import ITEM_IDS_FILE, BundleMismatch, read_manifest
from app.gru.vocab import ItemVocab
from tests.conftest import TinyBundle


def test_rows_and_ids_round_trip() -> None:
    vocab = ItemVocab(["v7", "v3", "v42"])
    assert len(vocab) == 3
    assert [vocab.row(item_id) for item_id in ("v7", "v3", "v42")] == [0, 1, 2]
    assert [vocab.item_id(row) for row in range(3)] == ["v7", "v3", "v42"]


def test_unknown_item_has_no_row() -> None:
    vocab = ItemVocab(["v7", "v3"])
    assert vocab.row("v8") is None
    assert vocab.row("") is None


def test_ids_of_keeps_the_order_of_the_rows() -> None:
    vocab = ItemVocab(["a", "b", "c", "d"])
    assert vocab.ids_of(np.array([3, 0, 2, 0], dtype=np.int64)) == ["d", "a", "c", "a"]
    assert vocab.ids_of(np.empty(0, dtype=np.int64)) == []


def test_rows_outside_the_catalogue_raise() -> None:
    vocab = ItemVocab(["a", "b"])
    with pytest.raises(IndexError):
        vocab.item_id(2)
    with pytest.raises(IndexError):
        vocab.item_id(-1)  # never a silent wrap-around to the last item
    with pytest.raises(IndexError):
        vocab.ids_of(np.array([0, -1], dtype=np.int64))


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(BundleMismatch, match="more than once"):
        ItemVocab(["a", "b", "a"])


def test_bundle_vocab_matches_the_training_vocabulary(tiny_bundle: TinyBundle) -> None:
    manifest = read_manifest(tiny_bundle.path)
    vocab = ItemVocab.from_bundle(tiny_bundle.path, manifest)
    expected = tiny_bundle.data.vocab.item_ids
    assert len(vocab) == manifest.n_items == len(expected)
    assert vocab.ids_of(np.arange(len(expected), dtype=np.int64)) == list(expected)
    assert all(vocab.row(item_id) == row for row, item_id in enumerate(expected))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('["a", "b"]', "lists 2 items, the manifest says"),
        ('{"a": 0}', "JSON list of strings"),
        ("[1, 2, 3]", "JSON list of strings"),
        ("[not json", "cannot be read"),
    ],
)
def test_bad_id_file_is_refused(
    tiny_bundle: TinyBundle, tmp_path: Path, content: str, message: str
) -> None:
    bundle = Path(shutil.copytree(tiny_bundle.path, tmp_path / "bundle"))
    manifest = read_manifest(bundle)
    (bundle / ITEM_IDS_FILE).write_text(content)
    with pytest.raises(BundleMismatch, match=message):
        ItemVocab.from_bundle(bundle, manifest)
