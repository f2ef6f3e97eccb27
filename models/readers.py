"""Read interaction files into `RawSession`s: MicroLens sequences and timestamped event logs.

Event logs without a session column are cut into sessions per user at idle gaps, and each
event gets its engagement weight from whatever signal columns the log has. `detect_format`
tells the two kinds apart from the file itself, so that a user's log loads as it is.
"""

import csv
import gzip
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import TextIO

from app.engagement import DEFAULT_WEIGHTS, EngagementEvent, EngagementWeights, engagement_weight
from models.sessions import RawSession

# Each role's accepted column names (lower case); the YOOCHOOSE / GRU4Rec files use
# SessionId, ItemId and Time.
SESSION_COLUMNS = ("session_id", "sessionid", "session")
USER_COLUMNS = ("user_id", "userid", "user")
ITEM_COLUMNS = ("item_id", "itemid", "item")
TIME_S_COLUMNS = ("ts", "time", "timestamp")  # epoch seconds
TIME_MS_COLUMNS = ("ts_ms", "time_ms", "timestamp_ms")  # epoch milliseconds
# Without a time column: the day of the event (ISO date), plus milliseconds since the session
# started where the log has them (Diginetica's eventdate and timeframe).
DATE_COLUMNS = ("eventdate", "event_date", "date", "day")
OFFSET_MS_COLUMNS = ("timeframe",)
DELIMITERS = ("\t", ";", ",")
INT_SIGNALS = ("watch_ms", "duration_ms", "replays")
BOOL_SIGNALS = ("liked", "shared", "saved", "commented")
BOOLEANS = {"1": True, "true": True, "0": False, "false": False, "": False}


def open_text(path: Path) -> TextIO:
    """Plain or gzip (by the .gz suffix); newline="" lets csv and rstrip see CRLF."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def detect_format(path: Path) -> str:
    """ "events" for a header naming item, session or user, and time (or date) columns;
    "sequences" for `id<TAB>item item ...` lines; anything else is an error naming both."""
    with open_text(path) as lines:
        first = next((line.rstrip("\r\n") for line in lines if line.strip()), "")
    if not first:
        raise ValueError(f"{path}: the file is empty")
    header = [name.strip().lower() for name in first.split(_delimiter(first))]
    has = {
        role: any(name in names for name in header)
        for role, names in (
            ("item", ITEM_COLUMNS),
            ("key", SESSION_COLUMNS + USER_COLUMNS),
            ("time", TIME_S_COLUMNS + TIME_MS_COLUMNS + DATE_COLUMNS),
        )
    }
    if all(has.values()):
        return "events"
    fields = first.split("\t")
    if len(fields) == 2 and fields[0].strip() and fields[1].split() and not any(has.values()):
        return "sequences"
    missing = [role for role, found in has.items() if not found]
    raise ValueError(
        f"{path}: neither an event log (a header naming an item, a session or user, and a time "
        f"or date column; {', '.join(missing)} missing from {header[:8]}) nor sequences "
        "('id<TAB>item item ...' lines)"
    )


def _delimiter(header_line: str) -> str:
    """The separator the header uses most: tab, semicolon or comma."""
    return max(DELIMITERS, key=header_line.count)


def read_sequences(path: Path) -> list[RawSession]:
    """MicroLens pairs: one `user_id<TAB>item item ...` line per user, oldest item first."""
    sessions = []
    with open_text(path) as lines:
        for line_number, line in enumerate(lines, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            items = tuple(fields[1].split()) if len(fields) == 2 else ()
            if not items or not fields[0].strip():
                raise ValueError(f"{path}:{line_number}: expected 'user_id<TAB>item item ...'")
            weights = (1.0,) * len(items)
            sessions.append(RawSession(fields[0].strip(), items, weights))
    return sessions


def _find_column(header: list[str], names: tuple[str, ...], role: str, path: Path) -> int | None:
    found = [i for i, name in enumerate(header) if name in names]
    if len(found) > 1:
        raise ValueError(f"{path}:1: more than one {role} column: {[header[i] for i in found]}")
    return found[0] if found else None


def _rows(lines: TextIO) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank line, header first."""
    header_line = lines.readline()
    delimiter = _delimiter(header_line)
    reader = csv.reader([header_line], delimiter=delimiter)
    yield 1, next(reader, [])
    # line numbers count the header, which the reader below has not seen
    body = csv.reader(lines, delimiter=delimiter)
    for fields in body:
        if any(field.strip() for field in fields):
            yield body.line_num + 1, fields


def read_event_log(
    path: Path, idle_gap_s: float = 1800.0, weights: EngagementWeights = DEFAULT_WEIGHTS
) -> list[RawSession]:
    """One row per event; sessions by the session column, else by user cut at idle gaps.

    A user's session ends where the next event comes more than `idle_gap_s` later; a gap of
    exactly `idle_gap_s` stays inside the session. Cut sessions are named f"{user}:{n}",
    n = 0, 1, ... in time order. Events are ordered by time within a session (ties keep file
    order); sessions (or users) come in the order of their first row in the file.
    """
    with open_text(path) as lines:
        rows = _rows(lines)
        _, header = next(rows, (1, []))
        header = [name.strip().lower() for name in header]
        item_col = _find_column(header, ITEM_COLUMNS, "item", path)
        time_col = _find_column(header, TIME_S_COLUMNS + TIME_MS_COLUMNS, "time", path)
        date_col = _find_column(header, DATE_COLUMNS, "date", path)
        offset_col = _find_column(header, OFFSET_MS_COLUMNS, "offset", path)
        if item_col is None or (time_col is None and date_col is None):
            raise ValueError(
                f"{path}:1: an item and a time (or date) column are required, got {header}"
            )
        time_scale = 1e-3 if time_col is not None and header[time_col] in TIME_MS_COLUMNS else 1.0
        key_col = _find_column(header, SESSION_COLUMNS, "session", path)
        by_session = key_col is not None
        if key_col is None:
            key_col = _find_column(header, USER_COLUMNS, "user", path)
        if key_col is None:
            raise ValueError(f"{path}:1: without a session column a user column is needed")
        signals = {
            name: header.index(name) for name in INT_SIGNALS + BOOL_SIGNALS if name in header
        }

        events: dict[str, list[tuple[float, str, float]]] = {}  # key -> (time_s, item, weight)
        for line_number, fields in rows:
            try:
                if len(fields) != len(header):
                    raise ValueError(f"{len(fields)} fields where the header has {len(header)}")
                key, item = fields[key_col].strip(), fields[item_col].strip()
                if not key or not item:
                    raise ValueError(f"empty {header[key_col]} or {header[item_col]}")
                if time_col is not None:
                    time_s = _time(fields[time_col], header[time_col], time_scale)
                else:
                    assert date_col is not None
                    time_s = _iso_seconds(
                        fields[date_col], header[date_col], "not an ISO date (YYYY-MM-DD)"
                    )
                    if offset_col is not None:
                        time_s += _number(fields[offset_col], header[offset_col]) / 1000
                weight = _weight({k: fields[i] for k, i in signals.items()}, weights)
            except ValueError as error:
                raise ValueError(f"{path}:{line_number}: {error}") from None
            events.setdefault(key, []).append((time_s, item, weight))

    sessions = []
    for key, rows_of_key in events.items():
        rows_of_key.sort(key=lambda event: event[0])  # stable: ties keep file order
        parts = [rows_of_key] if by_session else _cut(rows_of_key, idle_gap_s)
        for n, part in enumerate(parts):
            session_id = key if by_session else f"{key}:{n}"
            items = tuple(item for _, item, _ in part)
            session_weights = tuple(weight for _, _, weight in part)
            sessions.append(RawSession(session_id, items, session_weights, part[0][0], part[-1][0]))
    return sessions


def _cut(
    events: list[tuple[float, str, float]], idle_gap_s: float
) -> list[list[tuple[float, str, float]]]:
    """Split time-ordered events where the gap exceeds idle_gap_s."""
    parts = [[events[0]]]
    for previous, event in pairwise(events):
        if event[0] - previous[0] > idle_gap_s:
            parts.append([])
        parts[-1].append(event)
    return parts


def _number(cell: str, name: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{name} {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} {cell!r} is not a finite number")
    return value


def _time(cell: str, name: str, scale: float) -> float:
    """Seconds: a number times `scale` (epoch seconds or ms), or an ISO date and time."""
    try:
        float(cell)
    except ValueError:
        return _iso_seconds(cell, name, "neither a number nor an ISO time")
    return _number(cell, name) * scale


def _iso_seconds(cell: str, name: str, otherwise: str) -> float:
    """An ISO date, or date and time (UTC unless it says otherwise), in epoch seconds."""
    try:
        moment = datetime.fromisoformat(cell.strip())
    except ValueError:
        raise ValueError(f"{name} {cell!r} is {otherwise}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _weight(cells: dict[str, str], weights: EngagementWeights) -> float:
    """Engagement weight from the row's signal cells; an empty cell means not reported."""
    if not cells:
        return 1.0
    numbers: dict[str, int | None] = {}
    for name in INT_SIGNALS:
        cell = cells.get(name, "").strip()
        numbers[name] = int(_number(cell, name)) if cell else None
    flags: dict[str, bool] = {}
    for name in BOOL_SIGNALS:
        cell = cells.get(name, "").strip().lower()
        if cell not in BOOLEANS:
            raise ValueError(f"{name} {cell!r} is not a boolean (1/0/true/false)")
        flags[name] = BOOLEANS[cell]
    event = EngagementEvent(
        watch_ms=numbers["watch_ms"],
        duration_ms=numbers["duration_ms"],
        liked=flags["liked"],
        shared=flags["shared"],
        saved=flags["saved"],
        commented=flags["commented"],
        replays=numbers["replays"] or 0,
    )
    return engagement_weight(event, weights)
