"""Events -> the sessions a round trains on, each event exactly once, in seq order.

The log holds swipes as they were applied, shards interleaved; the joiner groups them by
session, orders them by seq and keeps, per session, the recent trained events as context:
a round trains a session's new events starting from the state its context leads to, so a
session that spans rounds is learned as one session, and no transition twice.
Held-back sessions (the guard's) stay pending one round and are trained in the next.
Everything here is plain data, saved whole in the learner's checkpoint.
"""

import zlib
from dataclasses import dataclass, field
from typing import Any

from app.events.entries import SwipeEntry

CONTEXT = 50  # trained events kept per session: the state a continuation starts from


@dataclass(slots=True)
class Fragment:
    """One session's part of a round: trained context, then the events to learn from."""

    session_id: str
    context_items: list[str]
    context_weights: list[float]
    items: list[str]
    weights: list[float]
    last_seq: int
    server_ms: list[int] = field(default_factory=list)  # of the new events: the served lag

    def sequence(self) -> tuple[list[str], list[float], int]:
        """(items, weights, n_context): what is stepped, the first n_context only for state;
        the last context event is the input of the first new transition."""
        lead = min(len(self.context_items), 1)
        n_context = len(self.context_items) - lead
        return (
            self.context_items + self.items,
            self.context_weights + self.weights,
            n_context,
        )


@dataclass(slots=True)
class Memory:
    trained_seq: int = 0  # the highest seq trained
    last_ms: int = 0  # the server time of its newest event
    items: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Joiner:
    session_ttl_ms: int
    memory: dict[str, Memory] = field(default_factory=dict)
    pending: dict[str, list[tuple[int, str, float, int]]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    duplicates: int = 0  # entries of a seq already joined (a Cluster retry, a replayed log)
    newest_ms: int = 0

    def add(self, entry: SwipeEntry) -> bool:
        """Join one swipe; False for a duplicate (a seq already trained or pending)."""
        memory = self.memory.setdefault(entry.session_id, Memory())
        pending = self.pending.setdefault(entry.session_id, [])
        if entry.seq == 1 and memory.trained_seq and not pending:
            # the id came back after its session expired (30 minutes idle): a new session
            if entry.server_ms - memory.last_ms > self.session_ttl_ms:
                self.memory[entry.session_id] = memory = Memory()
        if entry.seq <= memory.trained_seq or any(entry.seq == p[0] for p in pending):
            self.duplicates += 1
            return False
        pending.append((entry.seq, entry.item_id, entry.weight, entry.server_ms))
        memory.last_ms = max(memory.last_ms, entry.server_ms)
        self.newest_ms = max(self.newest_ms, entry.server_ms)
        return True

    def take_round(
        self, round_number: int, guard_share: float
    ) -> tuple[list[Fragment], list[Fragment]]:
        """(to train, held back for the guard): sessions held last round are trained now."""
        train, guard = [], []
        for session_id, events in self.pending.items():
            if not events:
                continue
            fragment = self._fragment(session_id, events)
            if session_id not in self.held and _draw(session_id, round_number) < guard_share:
                guard.append(fragment)
            else:
                train.append(fragment)
        return train, guard

    def trained(self, train: list[Fragment], guard: list[Fragment]) -> None:
        """After the round: trained fragments become context, guard ones are held."""
        for fragment in train:
            memory = self.memory[fragment.session_id]
            memory.trained_seq = fragment.last_seq
            memory.items = (memory.items + fragment.items)[-CONTEXT:]
            memory.weights = (memory.weights + fragment.weights)[-CONTEXT:]
            self.pending.pop(fragment.session_id, None)
            self.held.discard(fragment.session_id)
        self.held.update(fragment.session_id for fragment in guard)
        self._expire()

    def _fragment(self, session_id: str, events: list[tuple[int, str, float, int]]) -> Fragment:
        memory = self.memory[session_id]
        ordered = sorted(events)
        return Fragment(
            session_id,
            list(memory.items),
            list(memory.weights),
            [event[1] for event in ordered],
            [event[2] for event in ordered],
            ordered[-1][0],
            [event[3] for event in ordered],
        )

    def _expire(self) -> None:
        """Sessions idle past the TTL with nothing pending: their context is never needed."""
        cutoff = self.newest_ms - self.session_ttl_ms
        for session_id in [s for s, m in self.memory.items() if m.last_ms < cutoff]:
            if not self.pending.get(session_id):
                del self.memory[session_id]
                self.pending.pop(session_id, None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_ttl_ms": self.session_ttl_ms,
            "memory": {
                s: [m.trained_seq, m.last_ms, m.items, m.weights] for s, m in self.memory.items()
            },
            "pending": {s: [list(e) for e in events] for s, events in self.pending.items()},
            "held": sorted(self.held),
            "duplicates": self.duplicates,
            "newest_ms": self.newest_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Joiner":
        return cls(
            session_ttl_ms=int(data["session_ttl_ms"]),
            memory={
                s: Memory(int(q), int(ms), list(i), list(w))
                for s, (q, ms, i, w) in data["memory"].items()
            },
            pending={
                s: [(int(q), str(i), float(w), int(ms)) for q, i, w, ms in events]
                for s, events in data["pending"].items()
            },
            held=set(data["held"]),
            duplicates=int(data["duplicates"]),
            newest_ms=int(data["newest_ms"]),
        )


def _draw(session_id: str, round_number: int) -> float:
    """A seeded uniform draw per session and round: which sessions the guard holds back."""
    return zlib.crc32(f"{round_number}:{session_id}".encode()) / 2**32
