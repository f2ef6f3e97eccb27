"""ServingModel: the loaded bundle the service answers with, checked against its manifest.

Loaded once at startup (never per request): the item vocabulary, the ONNX steps, the FAISS
retriever, the exploration policy and the content encoder with its projection (how uploads
enter the model's item space), all from one verified bundle directory. A startup
that finds any file disagreeing with the manifest raises BundleMismatch and does not serve.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.bandit.policy import ThompsonPolicy
from app.bundle import CLUSTERS_FILE, POPULARITY_FILE, BundleMismatch, Manifest, verify_bundle
from app.content.encoder import ContentEncoder, load_encoder
from app.content.projection import Projection
from app.gru.step import GruStep
from app.gru.vocab import ItemVocab
from app.retrieval.index import Retriever
from app.settings import DEFAULT_MAX_BATCH


@dataclass(frozen=True, slots=True)
class ServingModel:
    manifest: Manifest
    vocab: ItemVocab
    step: GruStep
    retriever: Retriever
    policy: ThompsonPolicy
    clusters: npt.NDArray[np.int32]  # (n_items,) the bandit arm of each item
    popularity_share: npt.NDArray[np.float32]  # (n_items,) popularity / max: cold-start score
    encoder: ContentEncoder  # an upload's title -> its (D,) content vector
    projection: Projection  # (n, D) content -> (n, H + 1) [embedding | bias]

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def n_arms(self) -> int:
        return self.manifest.n_clusters


def load_model(
    bundle_dir: Path,
    ort_threads: int = 1,
    faiss_threads: int = 1,
    explore_popularity_alpha: float = 0.5,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> ServingModel:
    """`max_batch`: the largest micro-batch the service will run, warmed up here."""
    manifest = verify_bundle(bundle_dir)
    popularity = np.load(bundle_dir / POPULARITY_FILE, allow_pickle=False)
    clusters = np.load(bundle_dir / CLUSTERS_FILE, allow_pickle=False)
    policy = ThompsonPolicy(clusters, popularity, explore_popularity_alpha)
    if clusters.shape != (manifest.n_items,) or policy.n_arms != manifest.n_clusters:
        raise BundleMismatch(
            f"clusters.npy holds {clusters.shape[0]} items in {policy.n_arms} clusters; "
            f"the manifest says {manifest.n_items} items in {manifest.n_clusters}"
        )
    model = ServingModel(
        manifest=manifest,
        vocab=ItemVocab.from_bundle(bundle_dir, manifest),
        step=GruStep(bundle_dir, manifest, ort_threads),
        retriever=Retriever(bundle_dir, manifest, faiss_threads),
        policy=policy,
        clusters=clusters,
        popularity_share=(popularity / max(int(popularity.max()), 1)).astype(np.float32),
        # both checked against manifest.content["encoder"]["dim"], hence against each other
        encoder=load_encoder(bundle_dir, manifest, ort_threads),
        projection=Projection(bundle_dir, manifest, ort_threads),
    )
    warm_up(model, max_batch)
    return model


def warm_up(model: ServingModel, max_batch: int, rounds: int = 20) -> None:
    """Step, search, encode and project a few times before the first request does.

    ONNX Runtime plans and allocates its buffers on the first runs and the first searches
    touch cold memory: paid here (during startup or a hot swap's load), not by the first
    requests, which otherwise see several times their usual latency. Micro-batches come in
    many sizes: each power of two up to max_batch is run once too.
    """
    hidden = None
    for row in range(min(rounds, model.manifest.n_items)):
        hidden = model.step.step(hidden, row, 1.0)
        model.retriever.search(hidden, 100)
    assert hidden is not None  # a bundle holds items
    for size in (2**power for power in range(1, max_batch.bit_length())):
        states = np.repeat(hidden[None, :], size, axis=0)
        rows = np.arange(size, dtype=np.int64) % model.manifest.n_items
        model.step.step_many(states, rows, np.ones(size, dtype=np.float32))
        model.retriever.search_many(states, 100)
    item_vector = model.projection.project(model.encoder.encode(["a first upload #warmup"]))[0]
    for _ in range(rounds):
        hidden = model.step.step_vector(hidden, item_vector[:-1], 1.0)
