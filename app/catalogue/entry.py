"""Catalogue log entries: an upload (an item's title and content vector) or a takedown, as bytes.

Every replica applies the same entries in the same order (ledger.py), so the format is exact
and compact: a version byte, a kind byte, fixed fields, UTF-8 strings, then the content vector
as float32, dense or as (slot, value) pairs where that is smaller (a hashing encoder's vectors
are mostly zeros). Never pickle: the log outlives the code that wrote it.
"""

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

VERSION = 1
_UPLOAD, _TAKEDOWN = ord("U"), ord("T")
# logged_ms, flags (bit 0: duration_ms, bit 1: created_ms), duration_ms, created_ms, the UTF-8
# lengths of item_id, title and encoder name, the vector's dimension and its stored pairs (-1:
# dense)
_UPLOAD_HEADER = struct.Struct("<qBqqHIHIi")
_TAKEDOWN_HEADER = struct.Struct("<qH")  # logged_ms, UTF-8 length of item_id
_FLOAT = np.dtype("<f4")
_SLOT = np.dtype("<u4")
# Ids and titles are any Python str, lone surrogates included (JSON can carry them).
_UTF8 = ("utf-8", "surrogatepass")


class CorruptEntry(ValueError):
    """Bytes that are not an entry of this format; the ledger skips them (and logs it)."""


@dataclass(frozen=True, slots=True, eq=False)
class Upload:
    """An item published with its content: added, its content updated, or restored."""

    item_id: str
    title: str
    content: npt.NDArray[np.float32]  # (D,) the title through `encoder`
    encoder: str  # the content encoder's name (ContentEncoder.name)
    logged_ms: int  # wall clock of the replica that wrote it: the catalogue's lag
    duration_ms: int | None = None
    created_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Takedown:
    """The item is served by no replica from this entry on, until it is uploaded again."""

    item_id: str
    logged_ms: int


Entry = Upload | Takedown


def encode_entry(entry: Entry) -> bytes:
    item_id = entry.item_id.encode(*_UTF8)
    if isinstance(entry, Takedown):
        header = _TAKEDOWN_HEADER.pack(entry.logged_ms, len(item_id))
        return bytes([VERSION, _TAKEDOWN]) + header + item_id
    if entry.content.ndim != 1:
        raise ValueError(f"content must be 1-D (D,), got shape {entry.content.shape}")
    title, encoder = entry.title.encode(*_UTF8), entry.encoder.encode(*_UTF8)
    content = np.asarray(entry.content, dtype=_FLOAT)
    slots = np.flatnonzero(content).astype(_SLOT)
    sparse = slots.size * (_SLOT.itemsize + _FLOAT.itemsize) < content.nbytes
    vector = slots.tobytes() + content[slots].tobytes() if sparse else content.tobytes()
    flags = (entry.duration_ms is not None) | (entry.created_ms is not None) << 1
    header = _UPLOAD_HEADER.pack(
        entry.logged_ms,
        flags,
        entry.duration_ms or 0,
        entry.created_ms or 0,
        len(item_id),
        len(title),
        len(encoder),
        content.size,
        slots.size if sparse else -1,
    )
    return b"".join([bytes([VERSION, _UPLOAD]), header, item_id, title, encoder, vector])


def decode_entry(data: bytes) -> Entry:
    """Raises CorruptEntry for truncated, padded, unknown-version or ill-formed data."""
    if len(data) < 2 or data[0] != VERSION:
        raise CorruptEntry("catalogue entry is empty or of an unknown format version")
    try:
        if data[1] == _TAKEDOWN:
            logged_ms, id_length = _TAKEDOWN_HEADER.unpack_from(data, 2)
            if len(data) != 2 + _TAKEDOWN_HEADER.size + id_length:
                raise CorruptEntry("takedown entry is truncated or padded")
            return Takedown(data[2 + _TAKEDOWN_HEADER.size :].decode(*_UTF8), logged_ms)
        if data[1] != _UPLOAD:
            raise CorruptEntry(f"catalogue entry kind {data[1]} is unknown")
        return _decode_upload(data)
    except (struct.error, UnicodeDecodeError) as error:
        raise CorruptEntry(f"catalogue entry is ill-formed: {error}") from None


def _decode_upload(data: bytes) -> Upload:
    fields = _UPLOAD_HEADER.unpack_from(data, 2)
    logged_ms, flags, duration_ms, created_ms, id_length, title_length = fields[:6]
    encoder_length, dim, n_pairs = fields[6:]
    offset = 2 + _UPLOAD_HEADER.size
    strings = []
    for length in (id_length, title_length, encoder_length):
        strings.append(data[offset : offset + length].decode(*_UTF8))
        offset += length
    vector_bytes = (
        dim * _FLOAT.itemsize if n_pairs < 0 else n_pairs * (_SLOT.itemsize + _FLOAT.itemsize)
    )
    if n_pairs > dim or len(data) != offset + vector_bytes:
        raise CorruptEntry("upload entry is truncated, padded, or its lengths disagree")
    if n_pairs < 0:
        content = np.frombuffer(data, _FLOAT, dim, offset).astype(np.float32)
    else:
        slots = np.frombuffer(data, _SLOT, n_pairs, offset)
        values = np.frombuffer(data, _FLOAT, n_pairs, offset + n_pairs * _SLOT.itemsize)
        if n_pairs and int(slots.max()) >= dim:
            raise CorruptEntry(f"upload entry has a vector slot beyond its dimension {dim}")
        content = np.zeros(dim, dtype=np.float32)
        content[slots] = values
    return Upload(
        item_id=strings[0],
        title=strings[1],
        content=content,
        encoder=strings[2],
        logged_ms=logged_ms,
        duration_ms=duration_ms if flags & 1 else None,
        created_ms=created_ms if flags & 2 else None,
    )
