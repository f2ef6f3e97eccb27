"""HashingEncoder against features counted by hand, and its promises: stable, unit, zero."""

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.content.hashing import HashingEncoder, title_features


def test_features_are_words_hashtags_and_word_pairs() -> None:
    assert title_features("Fun cats, # Comic #two yuan!") == [
        "w:fun",
        "w:cats",
        "w:comic",
        "t:comic",
        "w:two",
        "t:two",
        "w:yuan",
        "b:fun cats",
        "b:cats comic",
        "b:comic two",
        "b:two yuan",
    ]


def test_a_spaced_hashtag_is_the_same_feature_as_a_joined_one() -> None:
    assert title_features("# comic") == title_features("#comic") == ["w:comic", "t:comic"]


def test_vector_is_the_signed_hash_of_the_features_with_sublinear_counts() -> None:
    dim = 64
    expected = np.zeros(dim)
    for feature, count in {"w:cat": 2, "w:dog": 1, "b:cat dog": 1, "b:dog cat": 1}.items():
        code = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        expected[code % dim] += (1.0 if code >> 63 else -1.0) * (1.0 + math.log(count))
    expected /= np.linalg.norm(expected)
    vector = HashingEncoder(dim).encode(["cat dog cat"])
    assert vector.shape == (1, dim)
    assert vector.dtype == np.float32
    np.testing.assert_allclose(vector[0], expected, rtol=1e-6)


def test_vectors_are_unit_and_a_title_without_words_is_zero() -> None:
    vectors = HashingEncoder().encode(["a cat video", "", "!!! 🤣🤣 ...", "北京 欢迎你"])
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms, [1.0, 0.0, 0.0, 1.0], atol=1e-6)


def test_shared_words_make_titles_closer() -> None:
    cats, kittens, repair = HashingEncoder().encode(
        ["funny cat jumps # cats", "funny cat sleeps # cats", "fix a leaking tap # diy"]
    )
    assert float(cats @ kittens) > 0.3
    assert abs(float(cats @ repair)) < 0.1


def test_the_hash_does_not_depend_on_the_process() -> None:
    """Python's str hash is salted per process; the encoder's must not be."""
    script = (
        "from app.content.hashing import HashingEncoder;"
        "print(HashingEncoder(256).encode(['summer food # homemade']).tobytes().hex())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[2],  # the repository root, where app/ is
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    here = HashingEncoder(256).encode(["summer food # homemade"]).tobytes().hex()
    assert outputs == {here + "\n"}


def test_params_rebuild_the_encoder() -> None:
    encoder = HashingEncoder(512)
    rebuilt = HashingEncoder.from_params(encoder.params())
    assert (rebuilt.name, rebuilt.dim) == (encoder.name, 512)
    np.testing.assert_array_equal(rebuilt.encode(["a b c"]), encoder.encode(["a b c"]))


def test_a_dimension_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        HashingEncoder(1)
