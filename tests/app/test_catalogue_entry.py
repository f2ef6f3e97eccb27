"""Catalogue log entries survive bytes exactly, and anything else is refused as corrupt."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from app.catalogue.entry import CorruptEntry, Takedown, Upload, decode_entry, encode_entry


def an_upload(
    content: npt.NDArray[np.float64],
    item_id: str = "v-1",
    title: str = "a cat plays piano #music",
    duration_ms: int | None = None,
    created_ms: int | None = None,
) -> Upload:
    return Upload(
        item_id,
        title,
        content.astype(np.float32),
        "hashing-4096",
        1_700_000_000_123,
        duration_ms,
        created_ms,
    )


def assert_same(decoded: object, upload: Upload) -> None:
    assert isinstance(decoded, Upload)
    for name in ("item_id", "title", "encoder", "logged_ms", "duration_ms", "created_ms"):
        assert getattr(decoded, name) == getattr(upload, name), name
    assert decoded.content.dtype == np.float32
    np.testing.assert_array_equal(decoded.content, upload.content)


@pytest.mark.parametrize("kind", ["dense", "sparse", "zero"])
def test_upload_round_trip(kind: str) -> None:
    rng = np.random.default_rng(0)
    content = {
        "dense": rng.normal(size=384),
        "sparse": np.where(rng.random(4096) < 0.01, rng.normal(size=4096), 0.0),
        "zero": np.zeros(16),
    }[kind]
    upload = an_upload(content, duration_ms=15_000, created_ms=0)
    data = encode_entry(upload)
    assert_same(decode_entry(data), upload)
    if kind == "sparse":  # (slot, value) pairs: far smaller than 4096 floats
        assert len(data) < 4096


def test_absent_fields_and_any_string_survive() -> None:
    upload = an_upload(np.ones(3), item_id="\ud800 lone", title="x" * 2000 + "é中")
    decoded = decode_entry(encode_entry(upload))
    assert_same(decoded, upload)
    assert isinstance(decoded, Upload)
    assert (decoded.duration_ms, decoded.created_ms) == (None, None)


def test_takedown_round_trip() -> None:
    assert decode_entry(encode_entry(Takedown("v-9", 42))) == Takedown("v-9", 42)


@pytest.mark.parametrize(
    "cut",
    [
        lambda data: b"",
        lambda data: b"\x02" + data[1:],  # another format version
        lambda data: data[:1] + b"X" + data[2:],  # an unknown kind
        lambda data: data[:-1],  # truncated
        lambda data: data + b"\0",  # padded
        lambda data: data[:12],  # inside the header
    ],
)
def test_corrupt_entries_are_refused(cut: Callable[[bytes], bytes]) -> None:
    for entry in (an_upload(np.arange(8.0)), Takedown("v-1", 1)):
        data = cut(encode_entry(entry))
        with pytest.raises(CorruptEntry):
            decode_entry(data)


def test_a_sparse_slot_beyond_the_dimension_is_refused() -> None:
    content = np.zeros(64)
    content[63] = 1.0
    data = bytearray(encode_entry(an_upload(content)))
    slot_at = len(data) - 8  # one pair: the slot, then the value
    data[slot_at : slot_at + 4] = (64).to_bytes(4, "little")
    with pytest.raises(CorruptEntry, match="beyond"):
        decode_entry(bytes(data))
