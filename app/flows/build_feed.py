"""The feed path: cursor -> state -> (stored page?) -> search -> drop seen/served -> explore.

The hidden state is the FAISS query (no ONNX on this path). A cursor of a stored page
replays it exactly; a request without one, or with a next_cursor not yet used, builds a
new page from the current state. A session with no swipes gets a cold-start page. When the
session store is unreachable the feed still answers: a cold-start page (popularity plus
exploration) that is stored nowhere and marked degraded. A state of a bundle swapped out
since is carried over to the serving one first, in the same update (session/migrate.py).
"""

import time
from dataclasses import dataclass

import numpy as np

from app.bandit.rewards import Posteriors
from app.bandit.slots import explore_positions, merge
from app.errors import StateStoreUnavailable
from app.model import ServingModel
from app.retrieval.filters import drop_excluded, fetch_size
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


def compose_page(
    state: SessionState,
    number: int,
    count: int,
    model: ServingModel,
    posteriors: Posteriors,
    explore_share: float,
    rng: np.random.Generator,
    telemetry: Telemetry,
) -> tuple[Page, dict[int, int]]:
    """A new page for the state: model items around exploration slots; explored item -> arm."""
    excluded = state.excluded()
    k = fetch_size(count, len(excluded), model.manifest.n_items)
    with telemetry.stage("search"):
        if state.hidden is None:  # cold start: the most popular items
            rows = model.retriever.popular(k)
            scores = model.popularity_share[rows]
        else:
            scores, rows = model.retriever.search(state.hidden, k)
    with telemetry.stage("filtering"):
        rows, scores = drop_excluded(rows, scores, excluded, count)
    with telemetry.stage("exploration"):
        positions = explore_positions(count, explore_share)
        avoid = model.policy.dominant_arms(rows)
        taken = excluded.union(rows.tolist())
        chosen = model.policy.choose(len(positions), posteriors, avoid, taken, rng)
        alpha, beta = posteriors
        explored = [(row, float(alpha[arm] / (alpha[arm] + beta[arm]))) for row, arm in chosen]
        ranked = list(zip(rows.tolist(), scores.tolist(), strict=True))
        merged = merge(ranked, explored, positions, count)
    page = Page(
        number=number,
        items=tuple(row for row, _, _ in merged),
        # float32 as stored, so that a replayed page is byte-identical to the first answer
        scores=tuple(float(np.float32(score)) for _, score, _ in merged),
        explore=tuple(flag for _, _, flag in merged),
        model_version=model.version,
    )
    return page, {row: arm for row, arm in chosen if row in page.items}


def degraded_page(
    session_id: str,
    number: int,
    count: int,
    model: ServingModel,
    posteriors: Posteriors,
    explore_share: float,
    rng: np.random.Generator,
    signer: CursorSigner,
    telemetry: Telemetry,
) -> FeedResult:
    """The page of a session whose state cannot be read: what a new session would get.

    Nothing is excluded (the seen items are in the unreachable store) and nothing is kept,
    so its explore slots earn no rewards; its cursors work again once the store is back.
    """
    fresh = SessionState(model_version=model.version)
    page, _ = compose_page(fresh, number, count, model, posteriors, explore_share, rng, telemetry)
    telemetry.degraded_pages.inc()
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
    rng: np.random.Generator,
    telemetry: Telemetry,
) -> FeedResult:
    model, arms = serving.model, serving.arms
    wanted = signer.verify(cursor, session_id) if cursor is not None else None
    posteriors = arms.posteriors()
    started = time.perf_counter()
    applied_at = started

    def apply(
        state: SessionState | None,
    ) -> tuple[SessionState, tuple[Page, bool, Migration | None]]:
        nonlocal applied_at
        telemetry.observe("state_read", time.perf_counter() - started)
        current = state or SessionState(model_version=model.version)
        migration = migrate(current, serving, replay_items)
        if wanted is not None and wanted in current.pages:
            return current, (current.pages[wanted], True, migration)  # a retry: the same page
        number = wanted if wanted == current.next_page else current.next_page
        page, explored_arms = compose_page(
            current, number, count, model, posteriors, explore_share, rng, telemetry
        )
        current.add_page(page, explored_arms, caps)
        applied_at = time.perf_counter()
        return current, (page, False, migration)

    try:
        page, replayed, migration = await store.update(session_id, apply)
    except StateStoreUnavailable:
        return degraded_page(
            session_id, wanted or 0, count, model, posteriors, explore_share, rng, signer, telemetry
        )
    telemetry.observe("state_write", time.perf_counter() - applied_at)
    if migration is not None:
        telemetry.sessions_migrated[migration].inc()
    if replayed:
        telemetry.page_replays.inc()
    else:
        telemetry.pages.inc()
        explored = [row for row, flag in zip(page.items, page.explore, strict=True) if flag]
        if explored:
            arms.record_impressions([int(model.clusters[row]) for row in explored])
            telemetry.explore_impressions.inc(len(explored))
    return FeedResult(
        page=page,
        cursor=signer.issue(session_id, page.number),
        next_cursor=signer.issue(session_id, page.number + 1),
        replayed=replayed,
    )
