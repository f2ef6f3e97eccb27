"""/healthz (the process is alive), /readyz (bundle loaded, catalogue log read, store
reachable), /metrics."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.deps import StateDep
from app.errors import StateStoreUnavailable
from app.schemas import ErrorOut

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses={503: {"model": ErrorOut}})
async def readyz(state: StateDep) -> dict[str, str] | JSONResponse:
    try:
        state["serving"].current.catalogue.require_read()
        await state["store"].ping()
    except StateStoreUnavailable as error:
        body = {"error": error.code, "detail": error.detail}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    return {"status": "ready", "model_version": state["serving"].current.model.version}


# response_class only documents the text/plain body (the route returns its own Response).
@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(state: StateDep) -> Response:
    return Response(state["telemetry"].exposition(), media_type=CONTENT_TYPE_LATEST)
