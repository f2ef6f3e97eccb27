"""HashingEncoder: a title as a signed, hashed bag of words and word pairs, in numpy.

Cheap enough to run on the upload path: no model file, no vocabulary, and the same title
gives the same vector on every replica and in every bundle (a stable hash, never Python's
salted `hash()`). Features (Weinberger et al., ICML 2009): each word, each hashtag (MicroLens
titles write them "# comic" as often as "#comic") and each pair of neighbouring words, with
sublinear term frequency 1 + log(tf); the vector is L2-normalised, an empty title is zero.
"""

import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

KIND = "hashing"
DEFAULT_DIM = 4096
# a hashtag ("#word" or "# word") or a plain word; \w is Unicode-aware, so CJK runs count
TOKEN = re.compile(r"(#\s*)?(\w+)")


def title_features(title: str) -> list[str]:
    """The hashed features of one title: words ("w:"), hashtags ("t:"), word pairs ("b:")."""
    words, features = [], []
    for match in TOKEN.finditer(title.lower()):
        word = match.group(2)
        words.append(word)
        features.append("w:" + word)
        if match.group(1) is not None:
            features.append("t:" + word)
    features.extend(f"b:{first} {second}" for first, second in itertools.pairwise(words))
    return features


class HashingEncoder:
    """Signed feature hashing into `dim` slots; stateless, so safe from any thread."""

    __slots__ = ("_dim",)

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        if dim < 2:
            raise ValueError(f"dim must be at least 2, got {dim}")
        self._dim = dim

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "HashingEncoder":
        """The encoder a manifest's content["encoder"] describes."""
        return cls(int(params["dim"]))

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def params(self) -> dict[str, Any]:
        """What the manifest records, enough for `from_params` to rebuild this encoder."""
        return {"kind": KIND, "name": self.name, "dim": self._dim, "ngrams": 2}

    def encode(self, titles: Sequence[str]) -> npt.NDArray[np.float32]:
        """(n,) titles -> (n, dim) unit vectors (zero for a title without words)."""
        vectors = np.zeros((len(titles), self._dim), dtype=np.float32)
        for row, title in enumerate(titles):
            for feature, count in Counter(title_features(title)).items():
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                code = int.from_bytes(digest, "little")
                sign = 1.0 if code >> 63 else -1.0  # the top bit: independent of the slot
                vectors[row, code % self._dim] += sign * (1.0 + math.log(count))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors
