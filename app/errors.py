"""The service's errors and the one handler that renders them as {"error", "detail"}.

    NextswipeError
    ├── BadInput                     4xx: the request is wrong; nothing was stored
    │   ├── InvalidRequest           422 invalid_request
    │   ├── UnknownItem              404 unknown_item
    │   ├── InvalidCursor            400 invalid_cursor
    │   ├── PayloadTooLarge          413 payload_too_large
    │   ├── UnsupportedMediaType     415 unsupported_media_type
    │   ├── Unauthorized             401 unauthorized
    │   └── AdminDisabled            403 admin_disabled (no admin token configured)
    └── Unavailable                  503: try again later (Retry-After)
        ├── StateStoreUnavailable    503 state_store_unavailable
        └── SessionBusy              503 session_busy (too many concurrent writers)
    BundleMismatch (app.bundle)      startup only: the process does not start

Domain code raises these, never HTTPException; no traceback ever reaches a client.
"""

from typing import ClassVar


class NextswipeError(Exception):
    """Base of every error a client may see."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadInput(NextswipeError):
    """The request is wrong; nothing was stored."""

    status_code = 400


class InvalidRequest(BadInput):
    """A missing or malformed field, an out-of-range value, an unknown field."""

    status_code = 422
    code = "invalid_request"


class UnknownItem(BadInput):
    """The item is not in the loaded catalogue."""

    status_code = 404
    code = "unknown_item"


class InvalidCursor(BadInput):
    """A cursor that is malformed, tampered with, or issued to another session."""

    status_code = 400
    code = "invalid_cursor"


class PayloadTooLarge(BadInput):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(BadInput):
    status_code = 415
    code = "unsupported_media_type"


class Unauthorized(BadInput):
    status_code = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}


class AdminDisabled(BadInput):
    """The catalogue cannot be changed: no admin token is configured (NEXTSWIPE_ADMIN_TOKEN)."""

    status_code = 403
    code = "admin_disabled"


class Unavailable(NextswipeError):
    """A dependency is down or overloaded; the same request may be retried safely."""

    status_code = 503
    code = "unavailable"
    headers = {"Retry-After": "1"}


class StateStoreUnavailable(Unavailable):
    code = "state_store_unavailable"


class SessionBusy(Unavailable):
    """Optimistic updates of one session kept conflicting; retrying is safe."""

    code = "session_busy"
