"""Catalogue: the items one request may serve and swipe, as of one log position, for one bundle.

Rows 0..N-1 are the bundle's items; rows N, N+1, ... are the uploads the bundle lacks, in the
order of their first upload in the log (builder.py), so that a row means the same item on every
replica of this bundle and in every session state it wrote. A snapshot never changes: the
follower builds the next one and the ServingSlot swaps it in by one assignment, and a request
reads `serving.catalogue` once. Taken-down rows stay (their meaning must not move) and are
excluded from every page and every swipe.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.errors import StateStoreUnavailable
from app.gru.step import GruStep
from app.gru.vocab import ItemVocab
from app.retrieval.uploads import UploadIndex

Source = Literal["bundle", "upload"]
Activity = Literal["active", "removed"]


def _no_rows() -> npt.NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class Catalogue:
    model_version: str  # the bundle whose rows these are
    vocab: ItemVocab  # rows 0..N-1
    uploads: UploadIndex  # rows N..: projected [embedding | bias], and their search
    position: int | None = None  # log entries applied; None: the log was never read
    upload_ids: tuple[str, ...] = ()  # row N + i -> item id
    upload_rows: Mapping[str, int] = field(default_factory=dict)  # item id -> row, uploads only
    ordinals: npt.NDArray[np.int64] = field(default_factory=_no_rows)  # (U,) ledger ordinals
    removed: frozenset[int] = frozenset()  # rows taken down, bundle or upload
    active_uploads: npt.NDArray[np.int64] = field(default_factory=_no_rows)  # upload rows, up
    last_logged_ms: int | None = None  # when the last applied entry was written

    @classmethod
    def of_bundle(cls, model_version: str, vocab: ItemVocab, hidden_size: int) -> "Catalogue":
        """The bundle's items alone, before the log is read (position None)."""
        empty = np.zeros((0, hidden_size + 1), dtype=np.float32)
        return cls(model_version, vocab, UploadIndex(empty, len(vocab)))

    @property
    def n_bundle(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab) + len(self.upload_ids)

    def require_read(self) -> None:
        """Serving before the log was read would ignore its takedowns: 503 instead."""
        if self.position is None:
            raise StateStoreUnavailable(
                "The catalogue log has not been read yet (its store is unreachable); "
                "try again shortly."
            )

    def row(self, item_id: str) -> int | None:
        """The item's row, taken down or not; None when this catalogue never had it."""
        row = self.vocab.row(item_id)
        return self.upload_rows.get(item_id) if row is None else row

    def servable_row(self, item_id: str) -> int | None:
        """The item's row unless it is unknown or taken down."""
        row = self.row(item_id)
        return None if row is None or row in self.removed else row

    def ids_of(self, rows: npt.NDArray[np.int64]) -> list[str]:
        """(n,) rows -> their ids; IndexError for a row beyond this catalogue."""
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"item rows must lie in 0..{len(self) - 1}")
        n_bundle = len(self.vocab)
        if not rows.size or rows.max() < n_bundle:
            return self.vocab.ids_of(rows)
        return [
            self.upload_ids[row - n_bundle] if row >= n_bundle else self.vocab.item_id(row)
            for row in rows.tolist()
        ]

    def ordinal(self, row: int) -> int | None:
        """The ledger ordinal of an upload row (its new-item statistics); None for a bundle
        row, and for a row beyond this catalogue (a replica further on in the log wrote it)."""
        if not len(self.vocab) <= row < len(self):
            return None
        return int(self.ordinals[row - len(self.vocab)])

    def source(self, row: int) -> Source:
        return "bundle" if row < len(self.vocab) else "upload"

    def activity(self, row: int) -> Activity:
        return "removed" if row in self.removed else "active"

    def step_on(
        self, step: GruStep, hidden: npt.NDArray[np.float32] | None, row: int, weight: float
    ) -> npt.NDArray[np.float32]:
        """The GRU step on one of these rows: a bundle item by its row, an upload by its
        projected embedding (upload_embedding)."""
        embedding = self.upload_embedding(row)
        if embedding is None:
            return step.step(hidden, row, weight)
        return step.step_vector(hidden, embedding, weight)

    def upload_embedding(self, row: int) -> npt.NDArray[np.float32] | None:
        """An upload's (H,) input embedding (its index row without the bias); None for a
        bundle item, which the step graph looks up by row."""
        n_bundle = len(self.vocab)
        return None if row < n_bundle else self.uploads.vectors[row - n_bundle, :-1]

    def sizes(self) -> dict[tuple[str, str], int]:
        """Items by source and activity, for the metrics."""
        removed_uploads = sum(row >= len(self.vocab) for row in self.removed)
        removed_bundle = len(self.removed) - removed_uploads
        return {
            ("bundle", "active"): len(self.vocab) - removed_bundle,
            ("bundle", "removed"): removed_bundle,
            ("upload", "active"): len(self.upload_ids) - removed_uploads,
            ("upload", "removed"): removed_uploads,
        }
