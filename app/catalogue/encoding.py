"""Titles -> content vectors for POST /items, off the event loop, a chunk at a time.

Encoding 1,000 titles takes from milliseconds (hashing) to seconds (a sentence encoder), and
tokenising and hashing are Python that holds the GIL: run in one go on the event loop, or in
many threads at once, it would stall every /swipe and /feed meanwhile. So titles go, in
chunks, to one encoder thread per process at the lowest CPU priority (niced.py).
"""

import asyncio
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from app.catalogue.niced import niced_thread
from app.content.encoder import ContentEncoder

CHUNK_TITLES = 64


def encodable(title: str) -> str:
    """The title with lone surrogates (which JSON can carry) replaced, so that no encoder or
    tokenizer ever meets a str that has no UTF-8 form."""
    return title.encode("utf-8", "replace").decode("utf-8")


class TitleEncoding:
    """One encoder thread per process: chunks of concurrent uploads take turns on it."""

    __slots__ = ("_thread",)

    def __init__(self) -> None:
        self._thread = niced_thread("encoder")

    async def encode(
        self, encoder: ContentEncoder, titles: Sequence[str]
    ) -> npt.NDArray[np.float32]:
        """(n,) titles -> (n, D) content vectors, D = encoder.dim."""
        loop = asyncio.get_running_loop()
        chunks: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(titles), CHUNK_TITLES):
            chunk = [encodable(title) for title in titles[start : start + CHUNK_TITLES]]
            chunks.append(await loop.run_in_executor(self._thread, encoder.encode, chunk))
        if not chunks:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def close(self) -> None:
        """Stop the encoder thread; an upload still encoding fails (the app is stopping)."""
        self._thread.shutdown(wait=False, cancel_futures=True)
