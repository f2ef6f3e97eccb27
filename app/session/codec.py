"""SessionState <-> bytes: the compact, versioned format the session store keeps.

Every swipe and every feed request decodes one session and encodes it back, so the format
is a version byte, a fixed header, the hidden state as raw float32 and flat little-endian
arrays packed in one struct call; never pickle.
"""

import struct
from itertools import accumulate
from typing import Any

import numpy as np
import numpy.typing as npt

from app.session.state import Page, SessionState

VERSION = 3  # 3: each page's count of recycled slots; 2 had none (read as 0);
# 2: the weights of the seen items (1 had none; its blobs read as expired)
READABLE = (2, VERSION)
# After the version byte: seq, next_page, hidden size (-1: no hidden yet), then the counts
# of seen, served, events, pages, page items (all pages together) and pending explores.
_HEADER = struct.Struct("<qqi6I")
_HIDDEN = np.dtype("<f4")
# Strings survive as any Python str, lone surrogates included (JSON can carry them).
_UTF8 = ("utf-8", "surrogatepass")


class CorruptState(ValueError):
    """Bytes that are not a session of this format version; the store treats them as expired."""


def _sections(counts: tuple[int, ...], version: int = VERSION) -> tuple[tuple[str, int], ...]:
    """The arrays after the hidden state: (struct type code, length), in order."""
    n_seen, n_served, n_events, n_pages, n_items, n_pending = counts
    recycled = (("I", n_pages),) if version >= 3 else ()  # recycled slots per page
    return (
        ("i", n_seen),  # swiped item rows
        ("f", n_seen),  # their engagement weights, float32
        ("i", n_served),  # served item rows
        ("q", n_events),  # the seq of each event id
        ("q", n_pages),  # page numbers
        ("I", n_pages),  # page sizes
        *recycled,
        ("i", n_items),  # page items, all pages in a row
        ("f", n_items),  # their scores: float32, FAISS's precision
        ("?", n_items),  # their explore flags
        ("i", n_pending),  # pending explore item rows
        ("i", n_pending),  # and their arms
        ("I", 1 + n_events + n_pages),  # lengths in characters of the strings that follow
    )


def encode(state: SessionState) -> bytes:
    """The state's bytes; equal states give equal bytes, so the store can skip no-op writes."""
    pages = list(state.pages.values())
    for page in pages:
        if not len(page.items) == len(page.scores) == len(page.explore):
            raise ValueError(f"page {page.number} has items, scores and flags of unequal length")
    if len(state.weights) != len(state.seen):
        raise ValueError(f"{len(state.seen)} seen items but {len(state.weights)} weights")
    if state.hidden is not None and state.hidden.ndim != 1:
        raise ValueError(f"hidden state must be 1-D (H,), got shape {state.hidden.shape}")
    hidden = b"" if state.hidden is None else np.asarray(state.hidden, _HIDDEN).tobytes()
    # model_version, event ids, page model versions: one UTF-8 run cut by character lengths
    strings = [state.model_version, *state.events, *(page.model_version for page in pages)]
    counts = (
        len(state.seen),
        len(state.served),
        len(state.events),
        len(pages),
        sum(len(page.items) for page in pages),
        len(state.pending_explore),
    )
    n_hidden = -1 if state.hidden is None else state.hidden.size
    header = _HEADER.pack(state.seq, state.next_page, n_hidden, *counts)
    body = struct.pack(
        "<" + "".join(f"{length}{code}" for code, length in _sections(counts)),
        *state.seen,
        *state.weights,
        *state.served,
        *state.events.values(),
        *(page.number for page in pages),
        *(len(page.items) for page in pages),
        *(page.recycled for page in pages),
        *(item for page in pages for item in page.items),
        *(score for page in pages for score in page.scores),
        *(flag for page in pages for flag in page.explore),
        *state.pending_explore,
        *state.pending_explore.values(),
        *map(len, strings),
    )
    text = "".join(strings).encode(*_UTF8)
    return b"".join([bytes([VERSION]), header, hidden, body, text])


def decode(data: bytes) -> SessionState:
    """Raises CorruptState for truncated, padded, unknown-version or ill-formed data.

    The hidden state may be of any size: a state of another bundle is the flows' to carry
    over (session/migrate.py), not the store's to refuse."""
    if not data:
        raise CorruptState("session data is empty")
    version = data[0]
    if version not in READABLE:
        raise CorruptState(f"session format version {version} is unknown (expected {VERSION})")
    if len(data) < 1 + _HEADER.size:
        raise CorruptState("session data is shorter than its header")
    seq, next_page, n_hidden, *counts = _HEADER.unpack_from(data, 1)
    if n_hidden < -1:
        raise CorruptState(f"hidden state size {n_hidden} is negative")
    offset = 1 + _HEADER.size
    hidden = None
    if n_hidden >= 0:
        hidden = _take(data, offset, _HIDDEN, n_hidden).astype(np.float32)  # a writable copy
        offset += _HIDDEN.itemsize * n_hidden
    arrays: list[list[Any]] = []
    for code, length in _sections(tuple(counts), version):
        dtype = np.dtype("<" + code)
        arrays.append(_take(data, offset, dtype, length).tolist())
        offset += dtype.itemsize * length
    if version < 3:
        arrays.insert(6, [0] * counts[3])  # no page recycled a slot
    seen, weights, served, event_seqs, numbers, sizes, recycled, items, scores, flags = arrays[:10]
    rows, arms, lengths = arrays[10:]
    try:
        text = data[offset:].decode(*_UTF8)
    except UnicodeDecodeError as exc:
        raise CorruptState("session data holds a string that is not UTF-8") from exc
    ends = list(accumulate(lengths))
    if ends[-1] != len(text) or sum(sizes) != len(items):
        raise CorruptState("session data is truncated, padded, or its lengths disagree")
    if any(part > size for part, size in zip(recycled, sizes, strict=True)):
        raise CorruptState("a page recycles more slots than it has")
    strings = [text[start:end] for start, end in zip([0, *ends], ends, strict=False)]
    event_ids, page_versions = strings[1 : 1 + len(event_seqs)], strings[1 + len(event_seqs) :]
    pages: dict[int, Page] = {}
    start = 0
    for number, end, model, reused in zip(
        numbers, accumulate(sizes), page_versions, recycled, strict=True
    ):
        pages[number] = Page(
            number=number,
            items=tuple(items[start:end]),
            scores=tuple(scores[start:end]),
            explore=tuple(flags[start:end]),
            model_version=model,
            recycled=reused,
        )
        start = end
    return SessionState(
        model_version=strings[0],
        hidden=hidden,
        seq=seq,
        seen=seen,
        weights=weights,
        served=served,
        events=dict(zip(event_ids, event_seqs, strict=True)),
        pages=pages,
        next_page=next_page,
        pending_explore=dict(zip(rows, arms, strict=True)),
    )


def _take(data: bytes, offset: int, dtype: np.dtype[Any], count: int) -> npt.NDArray[Any]:
    """A bounds-checked view, so that truncated data is caught before it is read."""
    if offset + dtype.itemsize * count > len(data):
        raise CorruptState("session data is truncated")
    return np.frombuffer(data, dtype, count, offset)
