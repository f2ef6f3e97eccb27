"""Property tests: the engagement weight and the session-state codec, over generated inputs.

Both sit on every swipe's path and take whatever clients and the store hand them, so their
contracts are checked over many inputs instead of a few examples. Runs are derandomized (the
same cases on every run, as in CI) and bounded to keep each test under a few seconds.
"""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.engagement import DEFAULT_WEIGHTS, EngagementEvent, EngagementWeights, engagement_weight
from app.session.codec import CorruptState, decode, encode
from app.session.state import Page, SessionState

FAST = settings(max_examples=300, deadline=None, derandomize=True, database=None)
SLOW = settings(max_examples=150, deadline=None, derandomize=True, database=None)

SIGNALS = ("liked", "shared", "saved", "commented")

watch_times = st.integers(min_value=0, max_value=2**40)
durations = st.none() | st.integers(min_value=1, max_value=2**40)


@st.composite
def events(
    draw: st.DrawFn, watch_ms: st.SearchStrategy[int | None] | None = None
) -> EngagementEvent:
    """Any event engagement_weight accepts: what /swipe's validation lets through, and more."""
    return EngagementEvent(
        watch_ms=draw(watch_ms if watch_ms is not None else st.none() | watch_times),
        duration_ms=draw(durations),
        liked=draw(st.booleans()),
        shared=draw(st.booleans()),
        saved=draw(st.booleans()),
        commented=draw(st.booleans()),
        replays=draw(st.integers(min_value=0, max_value=10_000)),
    )


bonuses = st.floats(min_value=0.0, max_value=3.0)
valid_weights = st.builds(
    EngagementWeights,
    skip_ms=st.integers(min_value=0, max_value=10**7),
    skip_weight=st.floats(min_value=0.0, max_value=1.0),
    reference_duration_ms=st.integers(min_value=1, max_value=10**8),
    share=bonuses,
    save=bonuses,
    replay=bonuses,
    like=bonuses,
    comment=bonuses,
)


def explicit(event: EngagementEvent) -> bool:
    return any(getattr(event, name) for name in SIGNALS) or event.replays > 0


@FAST
@given(events(), valid_weights)
def test_weight_is_finite_and_in_unit_interval(
    event: EngagementEvent, weights: EngagementWeights
) -> None:
    for w in (weights, DEFAULT_WEIGHTS):
        weight = engagement_weight(event, w)
        assert math.isfinite(weight)
        assert 0.0 <= weight <= 1.0


@FAST
@given(events(watch_ms=watch_times), watch_times)
def test_weight_is_monotone_in_watch_time(event: EngagementEvent, other_ms: int) -> None:
    """Longer watching never weighs less, across the skip threshold too (3 s of a 10-minute
    item weighs at least a skip, not its 0.005 watch fraction)."""
    assert event.watch_ms is not None
    shorter, longer = sorted((event.watch_ms, other_ms))
    low = engagement_weight(dataclasses.replace(event, watch_ms=shorter))
    high = engagement_weight(dataclasses.replace(event, watch_ms=longer))
    assert low <= high


@FAST
@given(events(watch_ms=watch_times), st.sampled_from(SIGNALS), st.integers(1, 10_000))
def test_weight_is_monotone_in_each_signal(
    event: EngagementEvent, signal: str, replays: int
) -> None:
    """With a watch time reported, adding a like, share, save, comment or replays never lowers
    the weight (every default bonus exceeds the skip weight)."""
    without = engagement_weight(dataclasses.replace(event, **{signal: False}))
    assert engagement_weight(dataclasses.replace(event, **{signal: True})) >= without
    no_replay = engagement_weight(dataclasses.replace(event, replays=0))
    replayed = engagement_weight(dataclasses.replace(event, replays=replays))
    assert replayed >= no_replay
    assert replayed == engagement_weight(dataclasses.replace(event, replays=1))  # counted once


@FAST
@given(events(watch_ms=watch_times), valid_weights)
def test_skip_threshold(event: EngagementEvent, weights: EngagementWeights) -> None:
    """Without an explicit signal, below skip_ms is the skip weight; from skip_ms on, the
    watch fraction of the item's length (or the reference length) decides, capped at 1."""
    plain = dataclasses.replace(
        event, liked=False, shared=False, saved=False, commented=False, replays=0
    )
    assert plain.watch_ms is not None
    weight = engagement_weight(plain, weights)
    if plain.watch_ms < weights.skip_ms:
        assert weight == weights.skip_weight
    else:
        length = plain.duration_ms or weights.reference_duration_ms
        assert weight == min(1.0, max(weights.skip_weight, plain.watch_ms / length))


@FAST
@given(
    st.integers(max_value=-1) | st.none(),
    st.integers(max_value=0) | st.none(),
    st.integers(max_value=-1) | st.none(),
)
def test_invalid_events_raise_value_error(
    watch_ms: int | None, duration_ms: int | None, replays: int | None
) -> None:
    event = EngagementEvent(watch_ms=watch_ms, duration_ms=duration_ms, replays=replays or 0)
    if watch_ms is None and duration_ms is None and replays is None:
        engagement_weight(event)  # nothing invalid
        return
    with pytest.raises(ValueError, match="must be"):
        engagement_weight(event)


# --- the session-state codec --------------------------------------------------------------

# Any Python str, lone surrogates included (JSON can carry them): hypothesis's text() leaves
# surrogates out unless asked, so they are mixed in explicitly.
strings = st.text(
    st.characters(codec=None, exclude_categories=()) | st.characters(categories=["Cs"]),
    max_size=12,
)
int32s = st.integers(min_value=-(2**31), max_value=2**31 - 1)
int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# float32 values survive exactly; NaN is left to the hidden state, compared bit for bit.
float32s = st.floats(width=32, allow_nan=False)
hidden_states = st.none() | hnp.arrays(
    np.float32,
    st.integers(min_value=0, max_value=64),
    elements=st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
)


@st.composite
def pages(draw: st.DrawFn, number: int) -> Page:
    size = draw(st.integers(min_value=0, max_value=8))
    return Page(
        number=number,
        items=tuple(draw(st.lists(int32s, min_size=size, max_size=size))),
        scores=tuple(draw(st.lists(float32s, min_size=size, max_size=size))),
        explore=tuple(draw(st.lists(st.booleans(), min_size=size, max_size=size))),
        model_version=draw(strings),
    )


@st.composite
def session_states(draw: st.DrawFn) -> SessionState:
    seen = draw(st.lists(st.tuples(int32s, float32s), max_size=20))
    numbers = draw(st.lists(int64s, max_size=5, unique=True))
    return SessionState(
        model_version=draw(strings),
        hidden=draw(hidden_states),
        seq=draw(int64s),
        seen=[row for row, _ in seen],
        weights=[weight for _, weight in seen],
        served=draw(st.lists(int32s, max_size=20)),
        events=draw(st.dictionaries(strings, int64s, max_size=8)),
        pages={number: draw(pages(number)) for number in numbers},
        next_page=draw(int64s),
        pending_explore=draw(st.dictionaries(int32s, int32s, max_size=8)),
    )


def assert_same(actual: SessionState, expected: SessionState) -> None:
    """Field by field (new fields included): hidden bit for bit, dicts in order."""
    for field in dataclasses.fields(SessionState):
        got, want = getattr(actual, field.name), getattr(expected, field.name)
        if field.name == "hidden":
            assert (got is None) == (want is None)
            if got is not None:
                assert got.dtype == np.float32
                assert got.tobytes() == np.asarray(want, np.float32).tobytes()
        elif isinstance(want, dict):
            assert list(got.items()) == list(want.items()), field.name
        else:
            assert got == want, field.name


@SLOW
@given(session_states())
def test_decode_inverts_encode_and_encode_is_deterministic(state: SessionState) -> None:
    data = encode(state)
    decoded = decode(data)
    assert_same(decoded, state)
    assert encode(decoded) == data == encode(state)


@SLOW
@given(st.data(), session_states())
def test_truncated_or_padded_blobs_are_refused(data: st.DataObject, state: SessionState) -> None:
    blob = encode(state)
    cut = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    with pytest.raises(CorruptState):
        decode(blob[:cut])
    with pytest.raises(CorruptState):
        decode(blob + data.draw(st.binary(min_size=1, max_size=16)))


@SLOW
@given(st.data(), session_states())
def test_flipped_bits_raise_corrupt_state_or_decode(
    data: st.DataObject, state: SessionState
) -> None:
    """The store treats CorruptState as an expired session; any other exception would be a
    500 on every request of that session until its TTL ran out."""
    blob = bytearray(encode(state))
    at = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    blob[at] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    try:
        decode(bytes(blob))
    except CorruptState:
        pass


@SLOW
@given(st.binary(max_size=256))
def test_arbitrary_bytes_raise_corrupt_state_or_decode(blob: bytes) -> None:
    try:
        decode(blob)
    except CorruptState:
        pass
