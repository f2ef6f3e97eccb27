"""The swipe path: event -> weight -> read state -> GRU step -> write state -> credit arm.

Everything is validated before the first write: an item the catalogue does not hold, or has
taken down, changes nothing stored. A bundle item is stepped on by its row, an upload by its
projected embedding (catalogue/snapshot.py), in a micro-batch with the concurrent swipes
(batching/).
The read-step-write is one atomic store update, so two swipes of one session never
overwrite each other, and a retried event id is applied at most once. An applied swipe is
appended to the event log once, with the state it changed (events/). A state of a bundle
swapped out since is carried over to the serving one first, in the same update.
"""

import time
from dataclasses import dataclass

import numpy as np

from app.bandit.new_item_tier import NEW_ITEM_ARM, NewItemTier
from app.batching.model_batches import ModelBatches, StepQuery
from app.engagement import (
    ABANDON_SKIPS,
    EngagementEvent,
    EngagementWeights,
    engagement_weight,
    first_skip_run,
)
from app.errors import UnknownItem
from app.events.entries import SwipeEntry, encode_entry
from app.serving import Serving
from app.session.migrate import Migration, migrate
from app.session.state import Caps, SessionState
from app.session.store import SessionStore
from app.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class SwipeResult:
    seq: int
    weight: float
    new_session: bool  # the session's first swipe, whether or not a feed opened it
    duplicate: bool
    model_version: str
    # the bandit arm credited, when the item was explored (NEW_ITEM_ARM: by the new-item tier)
    explored_arm: int | None = None
    migration: Migration | None = None  # the state came from a swapped-out bundle
    created: bool = False  # no state was stored: this request started the session
    abandoned_at: int | None = None  # this swipe completed the session's first run of skips


def abandoned_now(state: SessionState, skip_weight: float) -> int | None:
    """The seq that began the session's first run of ABANDON_SKIPS skips, when this swipe
    completed it (sessions longer than max_seen judge by the swipes they still keep)."""
    skip = float(np.float32(skip_weight))  # the state keeps weights as float32
    recent = state.weights[-ABANDON_SKIPS:]
    if len(recent) < ABANDON_SKIPS or max(recent) > skip:
        return None  # the usual case, decided without a scan
    start = first_skip_run(state.weights, skip, ABANDON_SKIPS)
    if start != len(state.weights) - ABANDON_SKIPS:
        return None  # an earlier run was the first
    return state.seq - ABANDON_SKIPS + 1


async def record_swipe(
    session_id: str,
    item_id: str,
    event_id: str | None,
    engagement: EngagementEvent,
    *,
    serving: Serving,
    store: SessionStore,
    caps: Caps,
    replay_items: int,
    weights: EngagementWeights,
    tier: NewItemTier,
    batches: ModelBatches,
    telemetry: Telemetry,
) -> SwipeResult:
    model, arms, catalogue = serving.model, serving.arms, serving.catalogue
    catalogue.require_read()
    item_row = catalogue.servable_row(item_id)
    if item_row is None:
        raise UnknownItem(f"item {item_id!r} is not in the catalogue of model {model.version}")
    weight = engagement_weight(engagement, weights)
    embedding = catalogue.upload_embedding(item_row)
    started = time.perf_counter()
    applied_at = started

    async def apply(state: SessionState | None) -> tuple[SessionState, SwipeResult]:
        nonlocal applied_at
        telemetry.observe("state_read", time.perf_counter() - started)
        current = state or SessionState(model_version=model.version)
        migration = migrate(current, serving, replay_items)
        if event_id is not None and event_id in current.events:
            seq = current.events[event_id]  # a retry: nothing else changes, its seq is echoed
            return current, SwipeResult(
                seq, weight, False, True, model.version, migration=migration
            )
        first = current.seq == 0
        with telemetry.stage("gru_step"):  # with its wait for the batch
            hidden = await batches.step(
                StepQuery(model.step, current.hidden, item_row, embedding, weight)
            )
        arm = current.apply_swipe(item_row, weight, hidden, event_id, model.version, caps)
        applied_at = time.perf_counter()
        return current, SwipeResult(
            current.seq,
            weight,
            first,
            False,
            model.version,
            arm,
            migration,
            state is None,
            abandoned_now(current, weights.skip_weight),
        )

    def entry(result: SwipeResult) -> bytes | None:
        """What the event log keeps of an applied swipe (a duplicate is not logged again)."""
        if result.duplicate:
            return None
        return encode_entry(
            SwipeEntry(
                session_id,
                result.seq,
                item_id,
                result.weight,
                engagement,
                result.model_version,
                time.time_ns() // 1_000_000,
            )
        )

    result = await store.update(session_id, apply, entry)
    telemetry.observe("state_write", time.perf_counter() - applied_at)
    if result.migration is not None:
        telemetry.sessions_migrated[result.migration].inc()
    if result.duplicate:
        telemetry.duplicates.inc()
        return result
    telemetry.swipes.inc()
    telemetry.new_sessions.inc(result.created)  # a session a feed opened was counted there
    telemetry.skips.inc(weight <= weights.skip_weight)
    telemetry.completions.inc(weight >= 1.0)
    if result.abandoned_at is not None:
        telemetry.first_abandonment.observe(result.abandoned_at)
    if result.explored_arm == NEW_ITEM_ARM:
        tier.record_reward(catalogue, item_row, weight)
        telemetry.explore_rewards.inc(weight)
    elif result.explored_arm is not None:
        arms.record_reward(result.explored_arm, weight)
        telemetry.explore_rewards.inc(weight)
    return result
