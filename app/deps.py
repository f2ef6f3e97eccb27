"""Annotated dependencies: the lifespan State a route works with, and the token checks.

One dependency hands a route the whole State (its collaborators are `state["serving"]`,
`state["store"]`, ...): FastAPI resolves each dependency on every request, and one per
collaborator cost a tenth of a swipe's time. It is async so that FastAPI runs it on the
event loop instead of a thread hop.
"""

import hmac
from typing import Annotated, cast

from fastapi import Depends, Request

from app.errors import AdminDisabled, Unauthorized
from app.lifespan import State
from app.settings import Settings


async def get_state(request: Request) -> State:
    """The lifespan's State: Starlette gives each request a shallow copy of it in the scope."""
    return cast(State, request.scope["state"])


def _carries(request: Request, expected: str) -> bool:
    """Whether the request's bearer token is `expected` (compared in constant time)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


async def require_token(request: Request) -> None:
    """With a configured client token, every request must carry it."""
    expected: str | None = request.state.settings.auth_token
    if expected is not None and not _carries(request, expected):
        raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")


async def require_admin(request: Request) -> None:
    """Changing the catalogue takes the admin token, always; a client token never does (the
    settings refuse an admin token equal to it)."""
    expected: str | None = request.state.settings.admin_token
    if expected is None:
        raise AdminDisabled(
            "the catalogue cannot be changed: no admin token is configured (NEXTSWIPE_ADMIN_TOKEN)"
        )
    if not _carries(request, expected):
        raise Unauthorized("the admin token is required: 'Authorization: Bearer <admin token>'")


async def require_reader(request: Request) -> None:
    """Reading the catalogue takes the client token when one is configured, or the admin's."""
    settings: Settings = request.state.settings
    if settings.auth_token is None or _carries(request, settings.auth_token):
        return
    if settings.admin_token is not None and _carries(request, settings.admin_token):
        return
    raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")


StateDep = Annotated[State, Depends(get_state)]
