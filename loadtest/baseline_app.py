"""A bare FastAPI app with nextswipe's two request shapes and constant JSON answers: what the
same uvicorn settings and the same load generator reach when the endpoints do no work.

    uvicorn loadtest.baseline_app:create_app --factory   # `python -m loadtest.run --baseline`
"""

import json

from fastapi import FastAPI, Response

from loadtest.config import LoadTestConfig


def create_app() -> FastAPI:
    """Pages carry LOADTEST_PAGE_SIZE items, so the simulated users keep their swipe/feed mix."""
    page_size = LoadTestConfig.from_env().page_size
    items = [
        {"item_id": str(rank), "score": 1.0, "source": "model", "rank": rank}
        for rank in range(page_size)
    ]
    page = {"session_id": "baseline", "items": items, "cursor": "0", "next_cursor": "1"}
    reply = {"session_id": "baseline", "seq": 1, "weight": 1.0, "duplicate": False}
    page_bytes, swipe_bytes = json.dumps(page).encode(), json.dumps(reply).encode()
    app = FastAPI(title="baseline", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/feed")
    async def feed() -> Response:
        return Response(page_bytes, media_type="application/json")

    @app.post("/swipe")
    async def swipe() -> Response:
        return Response(swipe_bytes, media_type="application/json")

    return app
