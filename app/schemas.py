"""Wire models of the HTTP contract (../shared/docs/API.md): SwipeIn, SwipeOut, FeedOut, FeedItem.

Unknown fields are rejected so that a misspelt field is never silently ignored, and
non-finite numbers are refused before anything is stored.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

SESSION_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"

SessionId = Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _whole_float_to_int(value: object) -> object:
    """12000.0 is the integer 12000 in JSON Schema (the published contract) and what some JSON
    encoders write for it; strict mode still refuses 12000.5, "12000", true and non-finite."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# After Field in each Annotated, so that the schema keeps minimum/maximum.
WholeNumber = BeforeValidator(_whole_float_to_int)


class SwipeIn(BaseModel):
    """One engagement event of one session on one item."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    session_id: SessionId
    item_id: ItemId
    event_id: EventId | None = None
    watch_ms: Annotated[int, Field(ge=0, le=86_400_000), WholeNumber] | None = None
    duration_ms: Annotated[int, Field(gt=0, le=86_400_000), WholeNumber] | None = None
    liked: bool = False
    shared: bool = False
    saved: bool = False
    commented: bool = False
    replays: Annotated[int, Field(ge=0, le=1000), WholeNumber] = 0
    ts_ms: Annotated[int, WholeNumber] | None = None


class SwipeOut(BaseModel):
    session_id: str
    seq: int
    weight: float
    new_session: bool
    duplicate: bool
    model_version: str


class FeedItem(BaseModel):
    item_id: str
    score: float
    source: Literal["model", "explore"]
    rank: int


class FeedOut(BaseModel):
    session_id: str
    items: list[FeedItem]
    cursor: str
    next_cursor: str
    model_version: str
    degraded: bool = False


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: str
    detail: str
