"""POST /items, DELETE /items/{item_id}, GET /items/{item_id}: the catalogue's uploads and
takedowns -> flows.change_catalogue. Changes take the admin token; reading takes a reader's."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.convertors import Convertor, register_url_convertor

from app.deps import StateDep, require_admin, require_reader
from app.flows.change_catalogue import NewItem, describe_item, take_down, upload_items
from app.schemas import ErrorOut, ItemOut, ItemsIn, ItemsOut, ItemStatus, TakedownOut

router = APIRouter()


class ItemIdConvertor(Convertor[str]):
    """Any id as one path segment, a slash (sent as %2F) or a line break (%0A) included:
    Starlette's `:path` stops at a line break, so an uploaded id holding one could never be
    read or taken down."""

    regex = "[\\s\\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("item_id", ItemIdConvertor())
ITEM_PATH = "/items/{item_id:item_id}"
ItemIdPath = Annotated[str, Path(min_length=1, max_length=128)]


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {code: {"model": ErrorOut} for code in codes}


@router.post(
    "/items",
    response_model=ItemsOut,
    responses=_errors(401, 403, 413, 415, 422, 503),
    dependencies=[Depends(require_admin)],
)
async def post_items(upload: ItemsIn, state: StateDep) -> ItemsOut:
    items = [
        NewItem(item.item_id, item.title, item.duration_ms, item.created_ms)
        for item in upload.items
    ]
    statuses, position = await upload_items(
        items,
        follower=state["catalogue"],
        slot=state["serving"],
        encoding=state["encoding"],
        telemetry=state["telemetry"],
    )
    return ItemsOut(
        items=[
            ItemStatus(item_id=item.item_id, status=status)
            for item, status in zip(items, statuses, strict=True)
        ],
        catalogue_version=position,
    )


@router.delete(
    ITEM_PATH,
    response_model=TakedownOut,
    responses=_errors(401, 403, 404, 422, 503),
    dependencies=[Depends(require_admin)],
)
async def delete_item(item_id: ItemIdPath, state: StateDep) -> TakedownOut:
    position = await take_down(
        item_id, follower=state["catalogue"], slot=state["serving"], telemetry=state["telemetry"]
    )
    return TakedownOut(item_id=item_id, status="removed", catalogue_version=position)


@router.get(
    ITEM_PATH,
    response_model=ItemOut,
    responses=_errors(401, 404, 422),
    dependencies=[Depends(require_reader)],
)
async def get_item(item_id: ItemIdPath, state: StateDep) -> ItemOut:
    info = describe_item(item_id, slot=state["serving"], tier=state["tier"])
    return ItemOut(
        item_id=item_id, source=info.source, status=info.status, impressions=info.impressions
    )
