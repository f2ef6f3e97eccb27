"""The next Catalogue of a bundle, from the ledger: who gets which row, and each upload's vector.

The row rule, the same on every replica: the bundle's items keep rows 0..N-1, and each upload
the bundle lacks gets row N + k, k its rank among such uploads by ledger ordinal (the order of
first uploads in the log). An upload of a bundle item is "known" and keeps the trained row and
embedding. Content is projected into the bundle's item space by the bundle's projection;
content of another encoder (logged by a replica serving another bundle) is encoded again from
its title first. Runs in a worker thread, while the follower holds its lock.
"""

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from app.catalogue.encoding import encodable
from app.catalogue.ledger import Ledger
from app.catalogue.snapshot import Catalogue
from app.model import ServingModel
from app.retrieval.uploads import UploadIndex

CHUNK_ITEMS = 512  # titles encoded, or contents projected, per call: bounds the memory held


def build_catalogue(
    ledger: Ledger, model: ServingModel, previous: Catalogue | None, changed: Iterable[str]
) -> Catalogue:
    """`model`'s catalogue at the ledger's position.

    From `previous`, a catalogue of the same bundle at an earlier position, only the uploads
    in `changed` since are projected; without it (startup, another bundle) every upload is.
    """
    if previous is None or previous.model_version != model.version:
        previous = Catalogue.of_bundle(model.version, model.vocab, model.manifest.hidden_size)
        changed = ledger.order
    n_bundle = len(model.vocab)
    upload_ids = list(previous.upload_ids)
    upload_rows = dict(previous.upload_rows)
    ordinals = previous.ordinals.tolist()
    projected: list[str] = []  # uploads whose vector is (re)computed, in row order
    for ordinal, item_id in sorted(
        (ledger.ordinal(item_id), item_id) for item_id in set(changed) if item_id in ledger.uploads
    ):
        if model.vocab.row(item_id) is not None:
            continue  # known: the trained embedding stays
        if item_id not in upload_rows:
            upload_rows[item_id] = n_bundle + len(upload_ids)
            upload_ids.append(item_id)
            ordinals.append(ordinal)
        projected.append(item_id)
    _recode(ledger, projected, model)
    vectors = np.zeros((len(upload_ids), model.manifest.hidden_size + 1), dtype=np.float32)
    vectors[: len(previous.uploads)] = previous.uploads.vectors
    for start in range(0, len(projected), CHUNK_ITEMS):
        chunk = projected[start : start + CHUNK_ITEMS]
        content = np.stack([ledger.uploads[item_id].content for item_id in chunk])
        slots = [upload_rows[item_id] - n_bundle for item_id in chunk]
        vectors[slots] = model.projection.project(content)
    removed = frozenset(
        row
        for row in (
            upload_rows.get(item_id, model.vocab.row(item_id)) for item_id in ledger.removed
        )
        if row is not None
    )
    up = np.ones(len(upload_ids), dtype=bool)  # (U,) upload rows not taken down
    up[[row - n_bundle for row in removed if row >= n_bundle]] = False
    return Catalogue(
        model_version=model.version,
        vocab=model.vocab,
        uploads=UploadIndex(vectors, n_bundle),
        position=ledger.position,
        upload_ids=tuple(upload_ids),
        upload_rows=upload_rows,
        ordinals=np.array(ordinals, dtype=np.int64),
        removed=removed,
        active_uploads=np.flatnonzero(up).astype(np.int64) + n_bundle,
        last_logged_ms=ledger.last_logged_ms,
    )


def _recode(ledger: Ledger, item_ids: list[str], model: ServingModel) -> None:
    """Content logged through another encoder than `model`'s, encoded again from its title."""
    name = model.encoder.name
    stale = [item_id for item_id in item_ids if ledger.uploads[item_id].encoder != name]
    for start in range(0, len(stale), CHUNK_ITEMS):
        chunk = stale[start : start + CHUNK_ITEMS]
        content: npt.NDArray[np.float32] = model.encoder.encode(
            [encodable(ledger.uploads[item_id].title) for item_id in chunk]
        )
        for item_id, vector in zip(chunk, content, strict=True):
            ledger.recode(item_id, vector, name)
