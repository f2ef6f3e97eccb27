"""Item titles: the content the encoders turn into vectors, read from an `item,title` CSV.

MicroLens ships one (MicroLens-50k_titles.csv.gz: quoted CSV, English with hashtags); the
synthetic log makes its own (models/synthetic.py). The same format lists content-only items,
the uploads exported from the service that a bundle must keep (`--content-items`).
"""

import csv
from pathlib import Path

from models.readers import open_text

HEADER = ("item", "title")


def read_titles(path: Path) -> dict[str, str]:
    """{item id: title}, from a CSV (plain, or gzip by the .gz suffix) with an item,title header.

    Ids are stripped, titles kept as written; a repeated id or a malformed row is an error.
    """
    titles: dict[str, str] = {}
    with open_text(path) as lines:
        reader = csv.reader(lines)
        header = tuple(name.strip().lower() for name in next(reader, []))
        if header != HEADER:
            raise ValueError(f"{path}:1: expected the header 'item,title', got {header}")
        for fields in reader:
            if not any(field.strip() for field in fields):
                continue
            line = reader.line_num
            if len(fields) != 2 or not fields[0].strip():
                raise ValueError(f"{path}:{line}: expected 'item,title', got {fields}")
            item_id = fields[0].strip()
            if item_id in titles:
                raise ValueError(f"{path}:{line}: item {item_id!r} is listed twice")
            titles[item_id] = fields[1]
    return titles


def write_titles(path: Path, titles: dict[str, str]) -> None:
    """The inverse of read_titles (plain CSV)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(titles.items())
