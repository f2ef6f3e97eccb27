"""The FAISS item index of the bundle: [item embedding | item bias] under inner product.

With the bias folded in as one more dimension, the query [hidden | 1] scores item i as
hidden . Wy[i] + By[i], exactly the model's score, so the feed path needs no ONNX call.
Item clusters (the exploration arms) come from spherical k-means over the embeddings.
"""

import faiss
import numpy as np
import numpy.typing as npt


def folded_item_vectors(
    embeddings: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """(n_items, H) and (n_items,) -> (n_items, H + 1)."""
    assert embeddings.ndim == 2
    assert bias.shape == (embeddings.shape[0],)
    return np.ascontiguousarray(np.hstack([embeddings, bias[:, None]]), dtype=np.float32)


def query_vectors(hidden: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """(b, H) states -> (b, H + 1) queries with the trailing 1 that picks up the bias."""
    assert hidden.ndim == 2
    ones = np.ones((hidden.shape[0], 1), dtype=np.float32)
    return np.ascontiguousarray(np.hstack([hidden, ones]), dtype=np.float32)


def build_exact_index(item_vectors: npt.NDArray[np.float32]) -> faiss.IndexFlatIP:
    """Exact inner-product search: right for catalogues of up to a few hundred thousand."""
    index = faiss.IndexFlatIP(item_vectors.shape[1])
    index.add(item_vectors)
    return index


def item_clusters(
    embeddings: npt.NDArray[np.float32], n_clusters: int, seed: int
) -> npt.NDArray[np.int32]:
    """(n_items,) cluster of each item: spherical k-means on the embedding directions."""
    n_clusters = max(1, min(n_clusters, len(embeddings)))
    unit = np.ascontiguousarray(embeddings, dtype=np.float32).copy()
    faiss.normalize_L2(unit)
    kmeans = faiss.Kmeans(unit.shape[1], n_clusters, niter=20, seed=seed, spherical=True)
    kmeans.train(unit)
    _, assignment = kmeans.index.search(unit, 1)
    return assignment[:, 0].astype(np.int32)
