"""Titles -> content vectors for POST /items, off the event loop, a chunk at a time.

Encoding 1,000 titles takes from milliseconds (hashing) to seconds (a sentence encoder), and
tokenising and hashing are Python that holds the GIL: run in one go on the event loop, or in
many threads at once, it would stall every /swipe and /feed meanwhile. So titles go, in
chunks, to one encoder thread per process that runs at the lowest CPU priority (nice 19, that
thread only): when the core is busy the event loop runs first and encoding takes what is
left. `GIL_SWITCH_S` shortens how long the event loop can wait for the GIL meanwhile.
"""

import asyncio
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import numpy as np
import numpy.typing as npt

from app.content.encoder import ContentEncoder

CHUNK_TITLES = 64
ENCODER_NICE = 19  # the lowest priority: the encoder thread never delays a request's CPU
# Python's default 5 ms lets a thread that holds the GIL make the event loop wait 5 ms at every
# hand-over; a 10,000-title burst then stalled requests past Redis's 0.25 s timeout (503s)
GIL_SWITCH_S = 0.0005


def _lower_priority() -> None:
    """Runs in the encoder thread: nice applies per thread on Linux (elsewhere: unchanged)."""
    with suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ENCODER_NICE)


def encodable(title: str) -> str:
    """The title with lone surrogates (which JSON can carry) replaced, so that no encoder or
    tokenizer ever meets a str that has no UTF-8 form."""
    return title.encode("utf-8", "replace").decode("utf-8")


class TitleEncoding:
    """One encoder thread per process: chunks of concurrent uploads take turns on it."""

    __slots__ = ("_thread",)

    def __init__(self) -> None:
        sys.setswitchinterval(GIL_SWITCH_S)
        self._thread = ThreadPoolExecutor(1, "encoder", initializer=_lower_priority)

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
