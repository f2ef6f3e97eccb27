"""The joiner: sessions in seq order across rounds, each event once, duplicates counted."""

from app.engagement import EngagementEvent
from app.events.entries import SwipeEntry
from learn.joiner import Joiner


def entry(session: str, seq: int, item: str, ms: int = 0) -> SwipeEntry:
    return SwipeEntry(session, seq, item, 1.0, EngagementEvent(), "v1", ms)


def test_events_are_ordered_by_seq_and_continue_from_their_context() -> None:
    joiner = Joiner(session_ttl_ms=1_800_000)
    for seq, item in [(2, "b"), (1, "a"), (3, "c")]:  # shards interleave; seq orders
        assert joiner.add(entry("s", seq, item))
    train, guard = joiner.take_round(1, guard_share=0.0)
    assert guard == []
    assert [f.items for f in train] == [["a", "b", "c"]]
    assert train[0].sequence() == (["a", "b", "c"], [1.0] * 3, 0)
    joiner.trained(train, guard)
    assert joiner.add(entry("s", 4, "d"))
    (continued,), _ = joiner.take_round(2, guard_share=0.0)
    # the last trained event is the input of the first new transition; the rest build state
    assert continued.sequence() == (["a", "b", "c", "d"], [1.0] * 4, 2)


def test_a_seq_joined_before_is_a_duplicate() -> None:
    joiner = Joiner(session_ttl_ms=1_800_000)
    assert joiner.add(entry("s", 1, "a"))
    assert not joiner.add(entry("s", 1, "a"))  # pending
    train, guard = joiner.take_round(1, 0.0)
    joiner.trained(train, guard)
    assert not joiner.add(entry("s", 1, "a"))  # trained
    assert joiner.duplicates == 2


def test_held_back_sessions_are_trained_the_next_round() -> None:
    joiner = Joiner(session_ttl_ms=1_800_000)
    for n in range(50):
        joiner.add(entry(f"s{n}", 1, "a"))
        joiner.add(entry(f"s{n}", 2, "b"))
    train, guard = joiner.take_round(1, guard_share=0.3)
    assert 5 < len(guard) < 30
    assert len(train) + len(guard) == 50
    joiner.trained(train, guard)
    later_train, later_guard = joiner.take_round(2, guard_share=0.3)
    assert {f.session_id for f in later_train} == {f.session_id for f in guard}
    assert later_guard == []


def test_the_state_survives_a_checkpoint_and_an_id_used_again_is_a_new_session() -> None:
    joiner = Joiner(session_ttl_ms=1000)
    joiner.add(entry("s", 1, "a", ms=0))
    joiner.add(entry("s", 2, "b", ms=10))
    train, guard = joiner.take_round(1, 0.0)
    joiner.trained(train, guard)
    restored = Joiner.from_dict(joiner.to_dict())
    assert restored.to_dict() == joiner.to_dict()
    assert restored.add(entry("s", 1, "z", ms=5000))  # after the TTL: a new session
    (fresh,), _ = restored.take_round(2, 0.0)
    assert fresh.context_items == []
    assert fresh.items == ["z"]
