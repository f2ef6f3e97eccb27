"""Annotated dependencies: the lifespan State a route works with, and the optional token check.

One dependency hands a route the whole State (its collaborators are `state["serving"]`,
`state["store"]`, ...): FastAPI resolves each dependency on every request, and one per
collaborator cost a tenth of a swipe's time. It is async so that FastAPI runs it on the
event loop instead of a thread hop.
"""

import hmac
from typing import Annotated, cast

from fastapi import Depends, Request

from app.errors import Unauthorized
from app.lifespan import State


async def get_state(request: Request) -> State:
    """The lifespan's State: Starlette gives each request a shallow copy of it in the scope."""
    return cast(State, request.scope["state"])


async def require_token(request: Request) -> None:
    """With a configured token, every request must carry it (compared in constant time)."""
    expected: str | None = request.state.settings.auth_token
    if expected is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")


StateDep = Annotated[State, Depends(get_state)]
