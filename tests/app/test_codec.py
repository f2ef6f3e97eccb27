import dataclasses
import struct

import numpy as np
import pytest

from app.session.codec import VERSION, CorruptState, decode, encode
from app.session.state import Page, SessionState


def full_state() -> SessionState:
    """Every field set, strings in several scripts, an item row at the int32 limit."""
    return SessionState(
        model_version="bündle-v2",
        hidden=np.array([0.5, -1.25, 3.0e-8, np.inf], dtype=np.float32),
        seq=7,
        seen=[4, 9, 2**31 - 1],
        weights=[1.0, 0.05, 0.375],
        served=[11, 12, 13, 14],
        events={"évènement-1": 3, "日本-2": 5, "🙂": 7, "\ud800": 6},
        pages={
            3: Page(3, (11, 12), (0.75, -0.5), (False, True), "bündle-v1"),
            4: Page(4, (13, 14), (0.25, 0.125), (True, False), "bündle-v2", recycled=1),
        },
        next_page=5,
        pending_explore={12: 0, 13: 6},
    )


def assert_same(actual: SessionState, expected: SessionState) -> None:
    assert (actual.hidden is None) == (expected.hidden is None)
    if actual.hidden is not None and expected.hidden is not None:
        assert actual.hidden.dtype == np.float32
        np.testing.assert_array_equal(actual.hidden, expected.hidden)
    assert actual.model_version == expected.model_version
    assert actual.seq == expected.seq
    assert actual.seen == expected.seen
    assert actual.weights == pytest.approx(expected.weights)  # float32 in the bytes
    assert actual.served == expected.served
    assert list(actual.events.items()) == list(expected.events.items())  # order kept
    assert list(actual.pages.items()) == list(expected.pages.items())
    assert actual.next_page == expected.next_page
    assert list(actual.pending_explore.items()) == list(expected.pending_explore.items())


def test_empty_state_round_trips() -> None:
    state = SessionState(model_version="v1")
    decoded = decode(encode(state))
    assert_same(decoded, state)
    assert decoded.hidden is None


def test_full_state_round_trips_and_encodes_identically_again() -> None:
    data = encode(full_state())
    decoded = decode(data)
    assert_same(decoded, full_state())
    assert encode(decoded) == data  # what lets the store detect a no-op update


def version_2(data: bytes, n_pages: int) -> bytes:
    """The same state as format 2 wrote it: no recycled counts, after the page sizes."""
    n_hidden, *counts = struct.unpack_from("<i6I", data, 1 + 16)
    n_seen, n_served, n_events = counts[:3]
    before = 1 + struct.calcsize("<qqi6I") + 4 * max(n_hidden, 0)
    before += 8 * n_seen + 4 * n_served + 8 * n_events + 8 * n_pages + 4 * n_pages
    return bytes([2]) + data[1:before] + data[before + 4 * n_pages :]


def test_a_format_2_state_reads_with_no_recycled_slots() -> None:
    state = full_state()
    state.pages[4] = dataclasses.replace(state.pages[4], recycled=0)
    data = encode(state)
    old = version_2(data, len(state.pages))
    assert len(old) == len(data) - 4 * len(state.pages)
    assert_same(decode(old), state)
    assert encode(decode(old)) == data  # written back in the current format


def test_a_page_recycling_more_slots_than_it_has_is_corrupt() -> None:
    state = full_state()
    state.pages[4] = dataclasses.replace(state.pages[4], recycled=3)
    with pytest.raises(CorruptState, match="recycles more slots"):
        decode(encode(state))


def test_decoded_hidden_is_a_writable_copy() -> None:
    data = encode(full_state())
    decoded = decode(data)
    assert decoded.hidden is not None
    decoded.hidden[0] = 42.0
    again = decode(data).hidden
    assert again is not None
    assert again[0] == 0.5


def test_scores_are_kept_at_float32_precision() -> None:
    state = SessionState("v1", pages={0: Page(0, (1,), (0.1,), (False,), "v1")})
    assert decode(encode(state)).pages[0].scores == (float(np.float32(0.1)),)


def test_version_1_blobs_read_as_corrupt() -> None:
    """Format 1 kept no weights: its sessions start over, as expired ones do."""
    with pytest.raises(CorruptState, match="version 1 is unknown"):
        decode(bytes([1]) + encode(full_state())[1:])


def test_unknown_version_is_refused() -> None:
    data = encode(full_state())
    with pytest.raises(CorruptState, match=f"version {VERSION + 1} is unknown"):
        decode(bytes([VERSION + 1]) + data[1:])


def test_every_truncation_is_refused() -> None:
    data = encode(full_state())
    for length in range(len(data)):
        with pytest.raises(CorruptState):
            decode(data[:length])


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(CorruptState, match="padded"):
        decode(encode(full_state()) + b"x")


def test_invalid_utf8_is_refused() -> None:
    data = encode(SessionState(model_version="é"))
    with pytest.raises(CorruptState, match="not UTF-8"):
        decode(data.replace("é".encode(), b"\xff"))


def test_negative_hidden_size_is_refused() -> None:
    data = bytearray(encode(SessionState("v1")))
    data[17:21] = (-2).to_bytes(4, "little", signed=True)  # after version, seq, next_page
    with pytest.raises(CorruptState, match="negative"):
        decode(bytes(data))


def test_seen_items_without_their_weights_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="2 seen items but 1 weights"):
        encode(SessionState("v1", seen=[1, 2], weights=[1.0]))


def test_pages_with_unequal_columns_cannot_be_encoded() -> None:
    state = SessionState("v1", pages={0: Page(0, (1, 2), (0.5,), (False, False), "v1")})
    with pytest.raises(ValueError, match="unequal length"):
        encode(state)
