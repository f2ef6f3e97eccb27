"""ASGI middleware that sheds load: past `max_in_flight` requests in this process, the next
one gets 503 `overloaded` with Retry-After at once instead of joining a queue.

An event loop that falls behind only grows its queue, and every queued request then waits
for all the ones before it. Answering early keeps the latency of the admitted requests
bounded and tells clients (and the gateway) to back off. Health and metrics are exempt, so
a busy process is not mistaken for a dead one.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.error_handlers import error_response

_EXEMPT = {"/healthz", "/readyz", "/metrics"}


class LoadShedding:
    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            detail = f"more than {self.max_in_flight} requests are in progress; try again shortly"
            refusal = error_response(503, "overloaded", detail, {"Retry-After": "1"})
            await refusal(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
