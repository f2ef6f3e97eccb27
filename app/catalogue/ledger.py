"""Ledger: what the catalogue log has said so far, item by item, at the position applied.

Every replica applies the log's entries here in log order, so two replicas at the same position
hold the same ledger: each uploaded item's latest upload (title, content vector), the items
taken down, and each uploaded item's ordinal, the order of its first upload. Rows
(builder.py) and new-item statistics (bandit/new_item_stats.py) derive from the ordinals, which
is why they agree across replicas and bundles. Only the follower changes a ledger.
"""

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.catalogue.entry import CorruptEntry, Takedown, Upload, decode_entry
from app.gru.vocab import ItemVocab

logger = logging.getLogger(__name__)
Status = Literal["added", "updated", "unchanged", "known"]


class Ledger:
    __slots__ = ("_ordinals", "last_logged_ms", "order", "position", "removed", "uploads")

    def __init__(self) -> None:
        self.position = 0  # entries applied
        self.last_logged_ms: int | None = None  # when the last applied entry was written
        self.uploads: dict[str, Upload] = {}  # item id -> its latest upload
        self.removed: set[str] = set()  # item ids taken down (uploaded or of a bundle)
        self.order: list[str] = []  # ordinal -> item id, in the order of first uploads
        self._ordinals: dict[str, int] = {}

    def apply(self, entries: Sequence[bytes]) -> set[str]:
        """Apply the next entries in order; returns the ids whose upload changed.

        An entry that does not decode still takes its position (every replica skips it the
        same way) and is logged.
        """
        changed: set[str] = set()
        for data in entries:
            self.position += 1
            try:
                entry = decode_entry(data)
            except CorruptEntry as error:
                logger.error("catalogue entry %d skipped: %s", self.position, error)
                continue
            self.last_logged_ms = entry.logged_ms
            if isinstance(entry, Takedown):
                self.removed.add(entry.item_id)
                continue
            if entry.item_id not in self._ordinals:
                self._ordinals[entry.item_id] = len(self.order)
                self.order.append(entry.item_id)
            self.uploads[entry.item_id] = entry
            self.removed.discard(entry.item_id)
            changed.add(entry.item_id)
        return changed

    def ordinal(self, item_id: str) -> int:
        """The ordinal of an uploaded item; KeyError for one never uploaded."""
        return self._ordinals[item_id]

    def knows(self, item_id: str) -> bool:
        """Whether the log ever named the item (an upload or a takedown)."""
        return item_id in self._ordinals or item_id in self.removed

    def recode(self, item_id: str, content: npt.NDArray[np.float32], encoder: str) -> None:
        """Keep the item's content as another encoder gives it (a bundle with another one)."""
        upload = self.uploads[item_id]
        self.uploads[item_id] = Upload(
            upload.item_id,
            upload.title,
            content,
            encoder,
            upload.logged_ms,
            upload.duration_ms,
            upload.created_ms,
        )

    def classify(
        self, items: Sequence[tuple[str, str]], vocab: ItemVocab
    ) -> list[tuple[Status, bool]]:
        """(item_id, title) in request order -> (status, whether it must be logged).

        An item of the bundle is "known" (its trained embedding stays) and is logged only to
        restore it after a takedown; an upload with its current title is "unchanged"; a
        taken-down upload is "added" again. An item repeated in `items` is judged against its
        earlier occurrence, as the log will apply them.
        """
        decided: list[tuple[Status, bool]] = []
        written: dict[str, str] = {}  # item id -> title logged by an earlier item of `items`
        for item_id, title in items:
            if vocab.row(item_id) is not None:
                restore = item_id in self.removed and item_id not in written
                decided.append(("known", restore))
                if restore:
                    written[item_id] = title
                continue
            if item_id in written:
                previous: str | None = written[item_id]
            elif item_id in self.uploads and item_id not in self.removed:
                previous = self.uploads[item_id].title
            else:
                previous = None
            status: Status = (
                "added" if previous is None else "unchanged" if previous == title else "updated"
            )
            decided.append((status, status != "unchanged"))
            if status != "unchanged":
                written[item_id] = title
        return decided
