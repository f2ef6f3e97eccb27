"""ASGI middleware that refuses request bodies that are too large (413) or not JSON (415).

It runs before routing. A declared Content-Length over the limit is refused at once; a
streamed body is read up to the limit (it is small by contract) and then handed on whole.
Some paths take a larger limit: POST /items carries up to 1,000 titles.
A body is refused only where some route takes the method at the path: anywhere else the
router's 404 or 405 is the answer (a PUT on /feed is a wrong method, not a wrong body).
"""

from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.error_handlers import error_response

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class BodyLimits:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger = larger or {}  # exact path -> its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            shown = content_type.decode("latin-1") or "none"
            detail = f"the body must be application/json, not {shown}"
            await self._refuse(
                error_response(415, "unsupported_media_type", detail), scope, receive, send
            )
            return
        limit = self.larger.get(scope["path"], self.max_body_bytes)
        too_large = error_response(
            413, "payload_too_large", f"the body is larger than {limit} bytes"
        )
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(too_large, scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                await self._refuse(too_large, scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        """Send `response`, or where no route takes this method at this path, let the router
        answer 404 or 405 (it reads no body). Routing is checked here only, off the path of
        an acceptable body. Starlette puts the app in the scope before any middleware runs."""
        routes = scope["app"].router.routes
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)
