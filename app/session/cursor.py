"""Feed cursors: opaque page tokens, signed and bound to the session they were issued to.

`/feed` issues one per page (`cursor`, `next_cursor`) and verifies the one it is given
before replaying or building that page, so a client can neither forge a page number nor
replay another session's page.
"""

import base64
import binascii
import hashlib
import hmac
import struct

from app.errors import InvalidCursor

MAX_TOKEN_CHARS = 200  # refused before decoding; real tokens have 22
_PAGE = struct.Struct(">I")  # unsigned: a negative page number cannot be written
_MAC_BYTES = 12  # HMAC-SHA256 truncated to 96 bits: forging takes ~2**95 tries
_TOKEN_BYTES = _PAGE.size + _MAC_BYTES
_MALFORMED = "The cursor is malformed: pass back a cursor exactly as /feed returned it."
_FOREIGN = "The cursor was not issued to this session or was altered; request /feed without it."


class CursorSigner:
    """Issues and verifies tokens: urlsafe base64, unpadded, of the page number and a MAC."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the cursor secret must not be empty")
        self._key = secret.encode()

    def issue(self, session_id: str, page_number: int) -> str:
        if not 0 <= page_number < 2**32:
            raise ValueError(f"page number {page_number} is outside [0, 2**32)")
        page = _PAGE.pack(page_number)
        return _text(page + self._mac(session_id, page))

    def verify(self, token: str, session_id: str) -> int:
        """The page number; raises InvalidCursor for a malformed, tampered or foreign token."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidCursor(f"The cursor is longer than {MAX_TOKEN_CHARS} characters.")
        try:
            padded = token.encode("ascii") + b"=" * (-len(token) % 4)
            raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        except (UnicodeEncodeError, binascii.Error) as exc:
            raise InvalidCursor(_MALFORMED) from exc
        # Base64 lets a last character's unused bits vary: only the canonical form is accepted,
        # so that no two tokens name the same page.
        if len(raw) != _TOKEN_BYTES or _text(raw) != token:
            raise InvalidCursor(_MALFORMED)
        page, mac = raw[: _PAGE.size], raw[_PAGE.size :]
        if not hmac.compare_digest(mac, self._mac(session_id, page)):
            raise InvalidCursor(_FOREIGN)
        number: int = _PAGE.unpack(page)[0]
        return number

    def _mac(self, session_id: str, page: bytes) -> bytes:
        """Over the fixed-size page bytes, then the session id: no two inputs collide."""
        digest = hmac.new(self._key, page + session_id.encode(), hashlib.sha256).digest()
        return digest[:_MAC_BYTES]


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
