"""Render every error as {"error", "detail"}: domain, validation, unknown routes, crashes.

A validation error becomes one sentence per field, naming the item when the field is one of
an item in a list (POST /items: "items.3.title (item 'v9'): ..."); anything unexpected becomes
a generic 500 whose traceback goes to the log, never to the client.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.errors import NextswipeError

log = logging.getLogger("nextswipe")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _field_sentence(error: dict[str, object], body: object) -> str:
    parts = [part for part in error.get("loc", ()) if part not in ("body", "query")]  # type: ignore[attr-defined]
    field = ".".join(str(part) for part in parts) or "the request body"
    item_id = _item_at(body, parts) if error.get("loc", ("",))[0] == "body" else None  # type: ignore[index]
    named = f" (item {item_id!r})" if item_id is not None else ""
    return f"{field}{named}: {error.get('msg', 'is invalid')}"


def _item_at(body: object, parts: list[object]) -> str | None:
    """The item_id of the innermost list element on the way to the field, if it has one."""
    item_id = None
    for part in parts:
        if isinstance(body, list) and isinstance(part, int) and 0 <= part < len(body):
            body = body[part]
            named = body.get("item_id") if isinstance(body, dict) else None
            if isinstance(named, str) and len(named) <= 128:  # a longer one is the error itself
                item_id = named
        elif isinstance(body, dict) and isinstance(part, str) and part in body:
            body = body[part]
        else:
            break
    return item_id


async def _on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NextswipeError)
    return error_response(exc.status_code, exc.code, exc.detail, exc.headers or None)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    sentences = [_field_sentence(error, exc.body) for error in exc.errors()]
    return error_response(422, "invalid_request", "; ".join(sentences) or "invalid request")


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # Domain code never raises HTTPException, so a 400 is FastAPI failing to parse a JSON
        # body (bytes that are not UTF-8, nesting deeper than the parser recurses): malformed
        # input, which the contract answers 422 like any other broken JSON.
        detail = "the body could not be parsed as JSON (is it UTF-8, and not nested too deeply?)"
        return error_response(422, "invalid_request", detail)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route at the path; a path served by one
        # route per method (GET and DELETE /items/{item_id}) allows all of theirs
        headers["Allow"] = ", ".join(sorted(_methods_at(request)))
    return error_response(exc.status_code, code, str(exc.detail), headers or None)


def _methods_at(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return methods


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "the service failed to answer; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NextswipeError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_crash)
