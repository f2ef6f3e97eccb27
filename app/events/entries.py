"""The event log's two kinds of entry, as compact JSON: what the trainer learns from.

A swipe entry is written once per applied swipe (never for a duplicate), a page entry once
per page built (never for a cursor replay). Items are external ids, never rows: rows differ
between bundle versions, and the trainer grows its own vocabulary. Standard library only,
so that the service writes and the trainer reads the same bytes.
"""

import json
from dataclasses import asdict, dataclass

from app.engagement import EngagementEvent


@dataclass(frozen=True, slots=True)
class SwipeEntry:
    session_id: str
    seq: int  # 1, 2, ... within the session: the order the trainer joins by
    item_id: str
    weight: float  # the engagement weight the GRU step used
    signals: EngagementEvent
    model_version: str  # the bundle that stepped it
    server_ms: int  # when it was applied (epoch milliseconds)


@dataclass(frozen=True, slots=True)
class PageEntry:
    session_id: str
    number: int  # the page's number within the session
    item_ids: tuple[str, ...]  # in rank order: position = index
    sources: tuple[str, ...]  # "model", "explore" or "recycled", per position
    model_version: str
    server_ms: int


Entry = SwipeEntry | PageEntry


class MalformedEntry(ValueError):
    """Bytes in the log that are no entry of ours (written by another program or version)."""


def encode_entry(entry: Entry) -> bytes:
    if isinstance(entry, SwipeEntry):
        fields = {
            "t": "swipe",
            "s": entry.session_id,
            "q": entry.seq,
            "i": entry.item_id,
            "w": round(entry.weight, 6),
            "e": {key: value for key, value in asdict(entry.signals).items() if value},
        }
    else:
        fields = {
            "t": "page",
            "s": entry.session_id,
            "n": entry.number,
            "i": list(entry.item_ids),
            "src": list(entry.sources),
        }
    fields |= {"v": entry.model_version, "ms": entry.server_ms}
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def decode_entry(data: bytes) -> Entry:
    try:
        fields = json.loads(data)
        if fields["t"] == "swipe":
            return SwipeEntry(
                session_id=str(fields["s"]),
                seq=int(fields["q"]),
                item_id=str(fields["i"]),
                weight=float(fields["w"]),
                signals=EngagementEvent(**fields["e"]),
                model_version=str(fields["v"]),
                server_ms=int(fields["ms"]),
            )
        if fields["t"] == "page":
            return PageEntry(
                session_id=str(fields["s"]),
                number=int(fields["n"]),
                item_ids=tuple(str(item) for item in fields["i"]),
                sources=tuple(str(source) for source in fields["src"]),
                model_version=str(fields["v"]),
                server_ms=int(fields["ms"]),
            )
    except (ValueError, KeyError, TypeError) as error:
        raise MalformedEntry(f"not an event entry: {data[:80]!r}") from error
    raise MalformedEntry(f"unknown entry type: {data[:80]!r}")
