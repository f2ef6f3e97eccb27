"""ItemVocab: the catalogue's external item ids and the dense item rows of the bundle.

The swipe path maps a request's `item_id` to the row the GRU step takes; the feed path maps
the rows that retrieval and the bandit rank back to ids for the response.
"""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.bundle import ITEM_IDS_FILE, BundleMismatch, Manifest


class ItemVocab:
    """Row r holds item_ids[r]; rows are dense, 0 .. len - 1."""

    __slots__ = ("_ids", "_rows")

    def __init__(self, item_ids: Sequence[str]) -> None:
        self._ids: npt.NDArray[np.object_] = np.array(item_ids, dtype=object)  # (n_items,)
        self._rows = {item_id: row for row, item_id in enumerate(item_ids)}
        if len(self._rows) != len(item_ids):
            raise BundleMismatch(f"{ITEM_IDS_FILE} lists some item id more than once")

    @classmethod
    def from_bundle(cls, bundle_dir: Path, manifest: Manifest) -> "ItemVocab":
        """Read item_ids.json, refusing one whose length or contents the manifest disagrees with."""
        try:
            item_ids = json.loads((bundle_dir / ITEM_IDS_FILE).read_text())
        except (OSError, ValueError) as error:
            raise BundleMismatch(f"{ITEM_IDS_FILE} cannot be read: {error}") from None
        if not isinstance(item_ids, list) or not all(isinstance(i, str) for i in item_ids):
            raise BundleMismatch(f"{ITEM_IDS_FILE} must be a JSON list of strings")
        if len(item_ids) != manifest.n_items:
            raise BundleMismatch(
                f"{ITEM_IDS_FILE} lists {len(item_ids)} items, the manifest says {manifest.n_items}"
            )
        return cls(item_ids)

    def __len__(self) -> int:
        return len(self._ids)

    def row(self, item_id: str) -> int | None:
        """The item's row, or None when the loaded catalogue does not hold it."""
        return self._rows.get(item_id)

    def item_id(self, row: int) -> str:
        if not 0 <= row < len(self._ids):
            raise IndexError(f"item row {row} is outside 0..{len(self._ids) - 1}")
        item_id: str = self._ids[row]
        return item_id

    def ids_of(self, rows: npt.NDArray[np.int64]) -> list[str]:
        """(n,) rows -> their n ids, in the same order, by one array lookup."""
        if rows.size and (rows.min() < 0 or rows.max() >= len(self._ids)):
            raise IndexError(f"item rows must lie in 0..{len(self._ids) - 1}")
        item_ids: list[str] = self._ids[rows].tolist()
        return item_ids
