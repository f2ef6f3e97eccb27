"""Content for the learner: where a grown row starts, and each version's projection.

The encoder is the base bundle's, unchanged across versions (its files are copied, never
exported again), so that every upload's logged content vector stays valid. Trained items'
titles (the training config's titles file) are encoded once and cached beside the learner's
checkpoint; uploads bring their vectors in the catalogue log. Each published version refits
the projection the base bundle chose (same kind, parameters and bias shift) to the new rows:
seconds, where choosing it again would take minutes with MiniLM.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.bundle import MANIFEST_FILE, Manifest
from app.catalogue.entry import CorruptEntry, Upload, decode_entry
from app.catalogue.local_log import parse_records
from app.catalogue.log import log_key
from app.content.encoder import load_encoder
from learn.source import sync_redis
from models.config import TrainConfig
from models.content_export import PROJECTION_STATES, Content, transitions
from models.export import ReusedContent
from models.item_index import folded_item_vectors
from models.prepare import item_titles
from models.projection import Feedforward, Neighbours, Projection, fit_chosen, needs_states
from models.sessions import Sessions
from models.train import Checkpoint, model_from_checkpoint

F32 = npt.NDArray[np.float32]
ENCODE_CHUNK = 256


@dataclass(frozen=True, slots=True)
class RefitJob:
    """What a refit fits on, as plain arrays: picklable, so it can run in another process."""

    kind: str
    params: dict[str, Any]
    bias_shift: float
    content: F32  # (n, D) the trained items' content vectors
    targets: F32  # (n, H + 1) their [embedding | bias]
    states: F32  # (m, H) session states, for the kinds that rank
    next_rows: npt.NDArray[np.int64]  # (m,) the index in `content` of each state's next item
    seed: int
    counts: dict[str, int]


def fit_job(job: RefitJob) -> Feedforward | Neighbours:
    """The slow part of a refit (an MLP's is about half a minute on one core)."""
    return fit_chosen(
        job.kind, job.params, job.content, job.targets, job.states, job.next_rows, job.seed
    )


class LearnerContent:
    def __init__(
        self,
        base: Path,
        config: TrainConfig,
        cache: Path,
        redis_url: str | None,
        catalogue_path: Path | None,
        key_prefix: str,
    ) -> None:
        manifest = Manifest.from_json((base / MANIFEST_FILE).read_text())
        self._base = base
        self._description = manifest.content
        self._encoder = load_encoder(base, manifest, max(config.threads, 1))
        self._titles = item_titles(config)
        self._cache = cache
        self._vectors: dict[str, F32] = {}
        if cache.exists():
            with np.load(cache) as saved:
                self._vectors = dict(zip(saved["ids"].tolist(), saved["vectors"], strict=True))
        self._redis_url = redis_url
        self._catalogue_path = catalogue_path
        self._key = log_key(key_prefix)

    def vectors(self, item_ids: Iterable[str]) -> dict[str, F32]:
        """The content vector of each id that has one: cached, titled, or uploaded."""
        ids = list(dict.fromkeys(item_ids))
        wanted = [i for i in ids if i not in self._vectors]
        titled = [i for i in wanted if self._titles.get(i)]
        for start in range(0, len(titled), ENCODE_CHUNK):
            chunk = titled[start : start + ENCODE_CHUNK]
            encoded = self._encoder.encode([self._titles[i] for i in chunk])
            self._vectors.update(zip(chunk, encoded, strict=True))
        if len(titled) < len(wanted):
            self._vectors.update((i, v) for i, v in self._uploads().items() if i in set(wanted))
        if titled:
            self._save()
        return {i: self._vectors[i] for i in ids if i in self._vectors}

    def _uploads(self) -> dict[str, F32]:
        """{item id: content vector} of every upload the catalogue log holds (the latest)."""
        if self._redis_url is not None:
            client = sync_redis(self._redis_url)
            try:
                records: list[bytes] = list(client.lrange(self._key, 0, -1))  # type: ignore[arg-type]
            finally:
                client.close()
        elif self._catalogue_path is not None and self._catalogue_path.exists():
            records = parse_records(self._catalogue_path.read_bytes())[0]
        else:
            return {}
        uploads: dict[str, F32] = {}
        for record in records:
            try:
                entry = decode_entry(record)
            except CorruptEntry:
                continue
            if isinstance(entry, Upload) and entry.encoder == self._encoder.name:
                uploads[entry.item_id] = entry.content
        return uploads

    def _save(self) -> None:
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        ids = list(self._vectors)
        temporary = self._cache.with_name(f".{self._cache.name}.tmp.npz")
        np.savez(temporary, ids=np.array(ids), vectors=np.stack([self._vectors[i] for i in ids]))
        temporary.replace(self._cache)

    def refit(self, checkpoint: Checkpoint, sessions: Sessions, seed: int) -> ReusedContent:
        """The base bundle's projection, refitted to `checkpoint`'s trained rows, here."""
        job = self.refit_job(checkpoint, sessions, seed)
        return self.refitted(job, fit_job(job))

    def refit_job(self, checkpoint: Checkpoint, sessions: Sessions, seed: int) -> RefitJob:
        """What a refit to `checkpoint`'s trained rows fits on, as plain arrays."""
        model = model_from_checkpoint(checkpoint)
        item_ids: list[str] = checkpoint["item_ids"]
        trained = np.flatnonzero(checkpoint["item_counts"].numpy() > 0)
        vectors = self.vectors(item_ids[row] for row in trained.tolist())
        zero = np.zeros(self._encoder.dim, dtype=np.float32)
        content = np.stack([vectors.get(item_ids[row], zero) for row in trained.tolist()])
        targets = folded_item_vectors(
            model.item_embedding.weight.detach().numpy()[trained],
            model.item_bias.weight.detach().numpy()[trained, 0],
        )
        chosen: dict[str, Any] = self._description["projection"]
        if needs_states(chosen["kind"]):
            states, next_rows = transitions(model, sessions, PROJECTION_STATES, seed)
        else:
            states, next_rows = np.zeros((0, model.hidden_size), np.float32), np.zeros(0, np.int64)
        place = np.full(len(item_ids), -1, dtype=np.int64)
        place[trained] = np.arange(len(trained))
        known = place[next_rows] >= 0
        return RefitJob(
            chosen["kind"],
            chosen["params"],
            float(chosen["bias_shift"]),
            content.astype(np.float32),
            targets,
            states[known],
            place[next_rows[known]],
            seed,
            {"fitted_items": len(trained), "items_with_content": len(vectors)},
        )

    def refitted(self, job: RefitJob, mapping: Feedforward | Neighbours) -> ReusedContent:
        """The version content of `job`'s fitted `mapping`, described as a refit."""
        projection = Projection(job.kind, mapping, job.params, bias_shift=job.bias_shift)
        description = {
            **self._description,
            "projection": {
                **projection.describe(),
                "refitted": {
                    "chosen_by": "the base bundle's choice (same kind, params, bias shift)",
                    **job.counts,
                    "states": len(job.next_rows),
                },
            },
        }
        description.pop("n_content_only", None)
        return self.reused(projection, description)

    def reused(self, projection: Projection, description: dict[str, Any]) -> ReusedContent:
        """What a version's export takes: this encoder and its files, and `projection`."""
        return ReusedContent(Content(self._encoder, projection, description), self._base)

    def projected(self, projection: Projection, item_ids: Iterable[str]) -> dict[str, F32]:
        """[embedding | bias] of each id that has content: a grown row's starting point."""
        vectors = self.vectors(item_ids)
        if not vectors:
            return {}
        rows = projection.apply(np.stack(list(vectors.values())).astype(np.float32))
        return dict(zip(vectors, rows, strict=True))
