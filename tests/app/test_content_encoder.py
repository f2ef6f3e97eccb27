"""load_encoder builds the encoder the manifest names, and refuses one it cannot trust."""

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from app.bundle import BundleMismatch, read_manifest
from app.content.encoder import load_encoder
from app.content.hashing import HashingEncoder
from tests.conftest import TinyBundle


def _with_encoder(bundle: Path, encoder: Any) -> Any:
    manifest = read_manifest(bundle)
    return dataclasses.replace(manifest, content={**manifest.content, "encoder": encoder})


def test_the_tiny_bundle_names_the_hashing_encoder(tiny_bundle: TinyBundle) -> None:
    manifest = read_manifest(tiny_bundle.path)
    encoder = load_encoder(tiny_bundle.path, manifest)
    assert isinstance(encoder, HashingEncoder)
    assert encoder.dim == manifest.content["encoder"]["dim"] == 1024  # models/configs/tiny.toml
    assert encoder.encode(["a cat"]).shape == (1, 1024)


@pytest.mark.parametrize(
    ("encoder", "message"),
    [
        (None, "names no content encoder"),
        ({"kind": "hashing"}, "names no content encoder"),
        ({"kind": "word2vec", "dim": 300}, "unknown content encoder kind 'word2vec'"),
    ],
)
def test_an_encoder_the_service_cannot_build_is_refused(
    tiny_bundle: TinyBundle, encoder: Any, message: str
) -> None:
    with pytest.raises(BundleMismatch, match=message):
        load_encoder(tiny_bundle.path, _with_encoder(tiny_bundle.path, encoder))
