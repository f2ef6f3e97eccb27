import base64
import string

import pytest

from app.errors import InvalidCursor
from app.session.cursor import MAX_TOKEN_CHARS, CursorSigner

SIGNER = CursorSigner("test-secret")


@pytest.mark.parametrize("page_number", [0, 1, 41, 2**32 - 1])
def test_issued_cursor_verifies_to_its_page(page_number: int) -> None:
    token = SIGNER.issue("session-1", page_number)
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")  # URL-safe, no "="
    assert SIGNER.verify(token, "session-1") == page_number


def test_cursors_are_opaque_and_differ_per_page_and_session() -> None:
    tokens = {SIGNER.issue(s, n) for s in ("a", "b") for n in (1, 2)}
    assert len(tokens) == 4
    assert "session-1" not in SIGNER.issue("session-1", 1)


def test_every_single_character_change_is_refused() -> None:
    token = SIGNER.issue("session-1", 3)
    alphabet = string.ascii_letters + string.digits + "-_"
    for position, char in enumerate(token):
        for other in alphabet.replace(char, ""):
            tampered = token[:position] + other + token[position + 1 :]
            with pytest.raises(InvalidCursor):
                SIGNER.verify(tampered, "session-1")


def test_cursor_of_another_session_is_refused() -> None:
    with pytest.raises(InvalidCursor, match="not issued to this session"):
        SIGNER.verify(SIGNER.issue("session-1", 3), "session-2")


def test_cursor_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(InvalidCursor, match="not issued to this session"):
        SIGNER.verify(CursorSigner("other-secret").issue("session-1", 3), "session-1")


@pytest.mark.parametrize(
    "token", ["", "abc", "not a cursor!", "é" * 22, "AAAAAAAAAAAAAAAAAAAAAA==", "A" * 200]
)
def test_garbage_is_refused_as_malformed(token: str) -> None:
    with pytest.raises(InvalidCursor, match="malformed"):
        SIGNER.verify(token, "session-1")


def test_over_long_token_is_refused_before_decoding() -> None:
    token = SIGNER.issue("session-1", 3)
    with pytest.raises(InvalidCursor, match=f"longer than {MAX_TOKEN_CHARS}"):
        SIGNER.verify(token + "A" * (MAX_TOKEN_CHARS - len(token) + 1), "session-1")


def test_a_page_number_outside_the_unsigned_range_cannot_be_issued() -> None:
    for page_number in (-1, 2**32):
        with pytest.raises(ValueError, match="outside"):
            SIGNER.issue("session-1", page_number)


def test_the_top_bit_of_a_token_reads_as_a_large_page_not_a_negative_one() -> None:
    token = SIGNER.issue("session-1", 2**31)
    assert base64.urlsafe_b64decode(token + "==")[0] == 0x80
    assert SIGNER.verify(token, "session-1") == 2**31


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        CursorSigner("")
