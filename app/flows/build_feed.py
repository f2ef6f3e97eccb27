"""The feed path: cursor -> state -> (stored page?) -> search -> drop seen/served -> explore.

The hidden state is the query of the bundle's FAISS index (in a micro-batch with the
concurrent feeds: batching/) and of the uploads' side index, merged by score (no ONNX on this
path). Seen, served and taken-down items are dropped. The
exploration slots go first to the new-item tier (uploads still short of their impressions),
then to the bandit's cluster arms. A cursor of a stored page replays it exactly, less any
item taken down since; a request without one, or with a next_cursor not yet used, builds a
new page from the current state. A session with no swipes gets a cold-start page. When the
session store is unreachable the feed still answers: a cold-start page (popularity plus
exploration) that is stored nowhere and marked degraded. A state of a bundle swapped out
since is carried over to the serving one first, in the same update (session/migrate.py).
"""

import time
from dataclasses import dataclass, replace

import numpy as np

from app.bandit.new_item_tier import NEW_ITEM_ARM, NewItemTier
from app.bandit.rewards import Posteriors
from app.bandit.slots import explore_positions, merge
from app.batching.model_batches import ModelBatches, SearchQuery
from app.errors import StateStoreUnavailable
from app.events.entries import PageEntry, encode_entry
from app.retrieval.filters import drop_excluded, fetch_size
from app.retrieval.merge import merge_by_score
from app.serving import Serving
from app.session.cursor import CursorSigner
from app.session.migrate import Migration, migrate
from app.session.state import Caps, Page, SessionState
from app.session.store import SessionStore
from app.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class FeedResult:
    page: Page
    cursor: str
    next_cursor: str
    replayed: bool
    degraded: bool = False  # the store was unreachable: not personalised, not stored


@dataclass(frozen=True, slots=True)
class PageMaker:
    """What a new page is made from, fixed for one request: the bundle and catalogue it
    serves, the bandit's posteriors read at its start, the exploration settings and the
    shared batcher and telemetry. `popular_only` ranks by popularity whatever the state (the
    A/B's baseline feed)."""

    serving: Serving
    posteriors: Posteriors
    explore_share: float
    tier: NewItemTier
    rng: np.random.Generator
    batches: ModelBatches
    telemetry: Telemetry
    popular_only: bool = False


async def compose_page(
    maker: PageMaker, state: SessionState, number: int, count: int
) -> tuple[Page, dict[int, int]]:
    """A new page for the state: model items around exploration slots, recycled items where
    nothing new is left; and explored item -> arm (NEW_ITEM_ARM for the new-item tier's)."""
    serving, telemetry, tier, rng = maker.serving, maker.telemetry, maker.tier, maker.rng
    model, catalogue = serving.model, serving.catalogue
    excluded = state.excluded()
    excluded |= catalogue.removed
    k = fetch_size(count, len(excluded), len(catalogue))
    with telemetry.stage("search"):  # with its wait for the batch
        if state.hidden is None or maker.popular_only:  # cold start: the most popular items
            rows = model.retriever.popular(k)
            scores = model.popularity_share[rows]
        else:
            scores, rows = await maker.batches.search(SearchQuery(model.retriever, state.hidden, k))
            if len(catalogue.uploads):
                found = catalogue.uploads.search(state.hidden, k)
                scores, rows = merge_by_score((scores, rows), found, k)
    with telemetry.stage("filtering"):
        rows, scores = drop_excluded(rows, scores, excluded, count)
    with telemetry.stage("exploration"):
        positions = explore_positions(count, maker.explore_share)
        taken = excluded.union(rows.tolist())
        fresh = tier.choose(tier.slots(len(positions)), catalogue, taken, rng)
        taken.update(row for row, _ in fresh)
        avoid = model.policy.dominant_arms(rows[rows < catalogue.n_bundle])
        chosen = model.policy.choose(
            len(positions) - len(fresh), maker.posteriors, avoid, taken, rng
        )
        alpha, beta = maker.posteriors
        explored = fresh + [
            (row, float(alpha[arm] / (alpha[arm] + beta[arm]))) for row, arm in chosen
        ]
        ranked = list(zip(rows.tolist(), scores.tolist(), strict=True))
        merged = merge(ranked, explored, positions, count)
    recycled = least_recently_served(state, catalogue.removed, merged, count - len(merged))
    merged += [(row, 0.0, False) for row in recycled]
    page = Page(
        number=number,
        items=tuple(row for row, _, _ in merged),
        # float32 as stored, so that a replayed page is byte-identical to the first answer
        scores=tuple(float(np.float32(score)) for _, score, _ in merged),
        explore=tuple(flag for _, _, flag in merged),
        model_version=model.version,
        recycled=len(recycled),
    )
    arms = {row: NEW_ITEM_ARM for row, _ in fresh} | dict(chosen)
    return page, {
        row: arms[row] for row, flag in zip(page.items, page.explore, strict=True) if flag
    }


def least_recently_served(
    state: SessionState, removed: frozenset[int], page: list[tuple[int, float, bool]], wanted: int
) -> list[int]:
    """Up to `wanted` items to serve again when the catalogue has nothing new left for the
    session: the ones it was served longest ago (then swiped longest ago), none taken down or
    already on the page. Never an empty page for a session that has seen everything."""
    if wanted <= 0:
        return []
    taken = set(removed).union(row for row, _, _ in page)
    again: list[int] = []
    for row in (*state.served, *state.seen):
        if row not in taken:
            again.append(row)
            taken.add(row)
            if len(again) == wanted:
                break
    return again


def without_removed(page: Page, removed: frozenset[int]) -> Page:
    """A stored page less the items taken down since it was first served."""
    if removed.isdisjoint(page.items):
        return page
    kept = [position for position, row in enumerate(page.items) if row not in removed]
    fresh = len(page.items) - page.recycled
    return replace(
        page,
        items=tuple(page.items[position] for position in kept),
        scores=tuple(page.scores[position] for position in kept),
        explore=tuple(page.explore[position] for position in kept),
        recycled=sum(position >= fresh for position in kept),
    )


async def degraded_page(
    session_id: str, number: int, count: int, maker: PageMaker, signer: CursorSigner
) -> FeedResult:
    """The page of a session whose state cannot be read: what a new session would get.

    Nothing is excluded but taken-down items (the seen items are in the unreachable store) and
    nothing is kept, so its explore slots earn no rewards and count no impressions; its
    cursors work again once the store is back.
    """
    fresh = SessionState(model_version=maker.serving.model.version)
    page, _ = await compose_page(maker, fresh, number, count)
    maker.telemetry.degraded_pages.inc()
    return FeedResult(
        page=page,
        cursor=signer.issue(session_id, number),
        next_cursor=signer.issue(session_id, number + 1),
        replayed=False,
        degraded=True,
    )


async def build_feed(
    session_id: str,
    count: int,
    cursor: str | None,
    *,
    serving: Serving,
    store: SessionStore,
    signer: CursorSigner,
    caps: Caps,
    replay_items: int,
    explore_share: float,
    tier: NewItemTier,
    rng: np.random.Generator,
    batches: ModelBatches,
    telemetry: Telemetry,
    popular_only: bool = False,
) -> FeedResult:
    model, arms, catalogue = serving.model, serving.arms, serving.catalogue
    catalogue.require_read()
    wanted = signer.verify(cursor, session_id) if cursor is not None else None
    maker = PageMaker(
        serving, arms.posteriors(), explore_share, tier, rng, batches, telemetry, popular_only
    )
    started = time.perf_counter()
    applied_at = started

    async def apply(
        state: SessionState | None,
    ) -> tuple[SessionState, tuple[Page, bool, Migration | None, bool]]:
        nonlocal applied_at
        telemetry.observe("state_read", time.perf_counter() - started)
        current = state or SessionState(model_version=model.version)
        migration = migrate(current, serving, replay_items)
        if wanted is not None and wanted in current.pages:
            return current, (current.pages[wanted], True, migration, False)  # a retry
        number = wanted if wanted == current.next_page else current.next_page
        page, explored_arms = await compose_page(maker, current, number, count)
        current.add_page(page, explored_arms, caps)
        applied_at = time.perf_counter()
        return current, (page, False, migration, state is None)

    def entry(result: tuple[Page, bool, Migration | None, bool]) -> bytes | None:
        """What the event log keeps of a new page (a replayed one was logged when built)."""
        page, replayed, _, _ = result
        if replayed:
            return None
        ids = catalogue.ids_of(np.asarray(page.items, dtype=np.int64))
        return encode_entry(
            PageEntry(
                session_id,
                page.number,
                tuple(ids),
                page.sources(),
                page.model_version,
                time.time_ns() // 1_000_000,
            )
        )

    try:
        page, replayed, migration, created = await store.update(session_id, apply, entry)
    except StateStoreUnavailable:
        return await degraded_page(session_id, wanted or 0, count, maker, signer)
    telemetry.observe("state_write", time.perf_counter() - applied_at)
    telemetry.new_sessions.inc(created)  # the normal client flow opens a session with a feed
    if migration is not None:
        telemetry.sessions_migrated[migration].inc()
    if replayed:
        telemetry.page_replays.inc()
        page = without_removed(page, catalogue.removed)
    else:
        telemetry.pages.inc()
        explored = [row for row, flag in zip(page.items, page.explore, strict=True) if flag]
        by_arms = [int(model.clusters[row]) for row in explored if row < catalogue.n_bundle]
        if by_arms:
            arms.record_impressions(by_arms)
        telemetry.explore_impressions.inc(len(explored))
        telemetry.new_item_impressions.inc(tier.record_impressions(catalogue, page.items))
    return FeedResult(
        page=page,
        cursor=signer.issue(session_id, page.number),
        next_cursor=signer.issue(session_id, page.number + 1),
        replayed=replayed,
    )
