"""POST /swipe: one engagement event -> flows.record_swipe -> SwipeOut."""

import time

from fastapi import APIRouter, Depends

from app.deps import StateDep, require_token
from app.engagement import EngagementEvent
from app.flows.record_swipe import record_swipe
from app.schemas import ErrorOut, SwipeIn, SwipeOut

router = APIRouter(dependencies=[Depends(require_token)])

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (401, 404, 413, 415, 422, 503)
}


@router.post("/swipe", response_model=SwipeOut, responses=_ERRORS)
async def post_swipe(swipe: SwipeIn, state: StateDep) -> SwipeOut:
    started = time.perf_counter()
    engagement = EngagementEvent(
        watch_ms=swipe.watch_ms,
        duration_ms=swipe.duration_ms,
        liked=swipe.liked,
        shared=swipe.shared,
        saved=swipe.saved,
        commented=swipe.commented,
        replays=swipe.replays,
    )
    result = await record_swipe(
        swipe.session_id,
        swipe.item_id,
        swipe.event_id,
        engagement,
        serving=state["serving"].current,  # read once: the whole request uses this bundle
        store=state["store"],
        caps=state["caps"],
        replay_items=state["settings"].swap_replay_items,
        weights=state["settings"].engagement,
        tier=state["tier"],
        batches=state["batches"],
        telemetry=state["telemetry"],
    )
    state["telemetry"].observe_request("swipe", time.perf_counter() - started)
    return SwipeOut(
        session_id=swipe.session_id,
        seq=result.seq,
        weight=result.weight,
        new_session=result.new_session,
        duplicate=result.duplicate,
        model_version=result.model_version,
    )
