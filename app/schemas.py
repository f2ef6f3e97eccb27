"""Wire models of the HTTP contract (../shared/docs/API.md): swipes, feeds, catalogue items.

Unknown fields are rejected so that a misspelt field is never silently ignored, and
non-finite numbers are refused before anything is stored.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.session.state import Source

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
    # "recycled": served to this session before, since the catalogue had nothing new left
    source: Source
    rank: int


class FeedOut(BaseModel):
    session_id: str
    items: list[FeedItem]
    cursor: str
    next_cursor: str
    model_version: str
    degraded: bool = False


MAX_UPLOAD_ITEMS = 1000
Title = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class ItemIn(BaseModel):
    """One item of an upload: its id and its text, from which its content embedding comes."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    item_id: ItemId
    title: Title = Field(description="the item's text (caption, hashtags)")
    duration_ms: Annotated[int, Field(gt=0, le=86_400_000), WholeNumber] | None = None
    # 2**53 - 1: where JSON numbers stop being exact integers (and year 285,000 in ms)
    created_ms: Annotated[int, Field(ge=0, le=2**53 - 1), WholeNumber] | None = Field(
        default=None, description="informational"
    )


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_UPLOAD_ITEMS)]


class ItemStatus(BaseModel):
    item_id: str
    status: Literal["added", "updated", "unchanged", "known"]


class ItemsOut(BaseModel):
    items: list[ItemStatus]
    catalogue_version: int = Field(description="the catalogue log's position after this write")


class TakedownOut(BaseModel):
    item_id: str
    status: Literal["removed"]
    catalogue_version: int = Field(description="the catalogue log's position after this write")


class ItemOut(BaseModel):
    item_id: str
    source: Literal["bundle", "upload"]
    status: Literal["active", "removed"]
    impressions: int | None = Field(
        description="an upload's impressions on every replica, as of the last sync; "
        "null for a bundle item (counted per cluster, not per item)"
    )


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: str
    detail: str
