"""The catalogue paths: upload items, take one down, describe one.

An upload is judged against the ledger caught up with the log (added, updated, unchanged,
known), its titles are encoded here, once, off the event loop, and what changes the catalogue
is appended to the log together with the content vectors, so that other replicas only project
them. Either write is applied on this replica before the answer (read-your-writes) and on the
others at their next poll. Everything is validated before the first write.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.bandit.new_item_tier import NewItemTier
from app.catalogue.encoding import TitleEncoding
from app.catalogue.entry import Takedown, Upload, encode_entry
from app.catalogue.follower import CatalogueFollower
from app.catalogue.ledger import Status
from app.catalogue.snapshot import Activity, Source
from app.errors import UnknownItem
from app.serving import ServingSlot
from app.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class NewItem:
    item_id: str
    title: str
    duration_ms: int | None = None
    created_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ItemInfo:
    source: Source
    status: Activity
    impressions: int | None  # None for a bundle item: counted per cluster, not per item


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _entries(
    items: Sequence[NewItem], content: npt.NDArray[np.float32], encoder: str
) -> list[bytes]:
    """The log entries of an upload; in a worker thread (1,000 of them take milliseconds)."""
    logged_ms = _now_ms()
    return [
        encode_entry(
            Upload(
                item.item_id,
                item.title,
                vector,
                encoder,
                logged_ms,
                item.duration_ms,
                item.created_ms,
            )
        )
        for item, vector in zip(items, content, strict=True)
    ]


async def upload_items(
    items: Sequence[NewItem],
    *,
    follower: CatalogueFollower,
    slot: ServingSlot,
    encoding: TitleEncoding,
    telemetry: Telemetry,
) -> tuple[list[Status], int]:
    """(the status of each item, the log position after the write)."""
    async with follower.settled() as ledger:
        model = slot.current.model
        decisions = ledger.classify([(item.item_id, item.title) for item in items], model.vocab)
        position = ledger.position
    written = [item for item, (_, logged) in zip(items, decisions, strict=True) if logged]
    if written:
        content = await encoding.encode(model.encoder, [item.title for item in written])
        entries = await asyncio.to_thread(_entries, written, content, model.encoder.name)
        position = await follower.write(entries)
    statuses = [status for status, _ in decisions]
    for status in statuses:
        telemetry.uploads[status].inc()
    return statuses, position


async def take_down(
    item_id: str, *, follower: CatalogueFollower, slot: ServingSlot, telemetry: Telemetry
) -> int:
    """The log position after the takedown; UnknownItem when the catalogue never had it."""
    async with follower.settled() as ledger:
        if slot.current.catalogue.row(item_id) is None and not ledger.knows(item_id):
            raise UnknownItem(f"item {item_id!r} was never in the catalogue")
    position = await follower.write([encode_entry(Takedown(item_id, _now_ms()))])
    telemetry.takedowns.inc()
    return position


def describe_item(item_id: str, *, slot: ServingSlot, tier: NewItemTier) -> ItemInfo:
    """What this replica's catalogue says of the item; UnknownItem when it does not hold it."""
    catalogue = slot.current.catalogue
    row = catalogue.row(item_id)
    if row is None:
        raise UnknownItem(f"item {item_id!r} is not in the catalogue")
    return ItemInfo(
        source=catalogue.source(row),
        status=catalogue.activity(row),
        impressions=tier.impressions(catalogue, row),
    )
