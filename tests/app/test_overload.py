"""Load shedding: past max_in_flight, requests are refused at once with a JSON 503."""

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.overload import LoadShedding


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def held_app(release: asyncio.Event) -> LoadShedding:
    """/work waits until `release` is set: a request that stays in flight on demand."""

    async def work(_: Request) -> JSONResponse:
        await release.wait()
        return JSONResponse({"ok": True})

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [Route("/work", work), Route("/healthz", healthz)]
    return LoadShedding(Starlette(routes=routes), max_in_flight=2)


@pytest.mark.anyio
async def test_requests_past_the_limit_get_503_overloaded_until_one_finishes() -> None:
    release = asyncio.Event()
    shedding = held_app(release)
    transport = httpx.ASGITransport(app=shedding)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        held = [asyncio.create_task(client.get("/work")) for _ in range(2)]
        while shedding.in_flight < 2:
            await asyncio.sleep(0.001)
        refused = await client.get("/work")
        assert refused.status_code == 503
        assert refused.json()["error"] == "overloaded"
        assert "2 requests" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "1"
        assert (await client.get("/healthz")).status_code == 200  # never shed
        release.set()
        assert [(await task).status_code for task in held] == [200, 200]
        assert shedding.in_flight == 0
        assert (await client.get("/work")).status_code == 200
