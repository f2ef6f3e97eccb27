"""GET /feed: the next page of a session's feed -> flows.build_feed -> FeedOut.

Item ids come from the catalogue the page was built on; a replayed page that another replica
built, further on in the catalogue log, waits for this replica to catch up instead.
"""

import time
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query

from app.deps import StateDep, require_token
from app.errors import InvalidRequest, StateStoreUnavailable
from app.flows.build_feed import build_feed
from app.schemas import SESSION_ID_PATTERN, ErrorOut, FeedItem, FeedOut

router = APIRouter(dependencies=[Depends(require_token)])

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 401, 422, 503)
}


@router.get("/feed", response_model=FeedOut, responses=_ERRORS)
async def get_feed(
    session_id: Annotated[str, Query(pattern=SESSION_ID_PATTERN)],
    state: StateDep,
    count: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> FeedOut:
    started = time.perf_counter()
    settings, telemetry = state["settings"], state["telemetry"]
    serving = state["serving"].current  # read once: the whole request uses this bundle
    if count is not None and count > settings.feed_max_count:
        raise InvalidRequest(f"count: must be at most {settings.feed_max_count}")
    result = await build_feed(
        session_id,
        count or settings.feed_default_count,
        cursor,
        serving=serving,
        store=state["store"],
        signer=state["signer"],
        caps=state["caps"],
        replay_items=settings.swap_replay_items,
        explore_share=settings.explore_share,
        tier=state["tier"],
        rng=state["rng"],
        batches=state["batches"],
        telemetry=telemetry,
        popular_only=settings.feed_ranking == "popular",
    )
    rows = np.asarray(result.page.items, dtype=np.int64)
    catalogue = serving.catalogue
    if rows.size and rows.max() >= len(catalogue):
        await state["catalogue"].catch_up()
        catalogue = state["serving"].current.catalogue
        if catalogue.model_version != result.page.model_version or rows.max() >= len(catalogue):
            raise StateStoreUnavailable("The page holds items this replica does not know yet.")
    ids = catalogue.ids_of(rows)
    items = [
        FeedItem(item_id=item_id, score=score, source=source, rank=rank)
        for rank, (item_id, score, source) in enumerate(
            zip(ids, result.page.scores, result.page.sources(), strict=True)
        )
    ]
    telemetry.observe_request("feed", time.perf_counter() - started)
    return FeedOut(
        session_id=session_id,
        items=items,
        cursor=result.cursor,
        next_cursor=result.next_cursor,
        model_version=result.page.model_version,
        degraded=result.degraded,
    )
