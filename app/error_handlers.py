"""Render every error as {"error", "detail"}: domain, validation, unknown routes, crashes.

A validation error becomes one sentence per field; anything unexpected becomes a generic
500 whose traceback goes to the log, never to the client.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import NextswipeError

log = logging.getLogger("nextswipe")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def _field_sentence(error: dict[str, object]) -> str:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]  # type: ignore[attr-defined]
    field = ".".join(location) or "the request body"
    return f"{field}: {error.get('msg', 'is invalid')}"


async def _on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NextswipeError)
    return error_response(exc.status_code, exc.code, exc.detail, exc.headers or None)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    sentences = [_field_sentence(error) for error in exc.errors()]
    return error_response(422, "invalid_request", "; ".join(sentences) or "invalid request")


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # Domain code never raises HTTPException, so a 400 is FastAPI failing to parse a JSON
        # body (bytes that are not UTF-8, nesting deeper than the parser recurses): malformed
        # input, which the contract answers 422 like any other broken JSON.
        detail = "the body could not be parsed as JSON (is it UTF-8, and not nested too deeply?)"
        return error_response(422, "invalid_request", detail)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}) or None)


async def _on_crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "the service failed to answer; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NextswipeError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_crash)
