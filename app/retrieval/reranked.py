"""The re-ranked 8-bit index: exact answers from a quarter of the bytes, for mid-size catalogues.

An exact scan of MicroLens' 19,100 x 513 float32 item vectors reads 39 MB per query. Here an
8-bit scalar-quantised copy (10 MB) is scanned for k_factor * k candidates, and the float
vectors re-rank them (FAISS IndexRefineFlat), so every returned score is the model's exact
score and the list differs from the exact one only when a true top-k item fell outside the
candidates (the export measures how often: models/index_choice.py). The vectors are spread
over a multiple of PAD_TO dimensions first, zeros between: FAISS's SIMD scalar-quantiser
kernels take 8 or 16 dimensions at a time, and at 513 dimensions the MicroLens scan took about
ten times as long as at 528 (14 against 1.4 ms for a top 100, this FAISS build, one thread,
on a slow day). Zeros change no inner product.
"""

import faiss
import numpy as np
import numpy.typing as npt

RERANKED_TYPE = "SQ8,RFlat"  # the manifest's name for it (FAISS's factory cannot build it)
K_FACTOR_PARAMETER = "k_factor_rf"  # FAISS ParameterSpace's name for IndexRefine.k_factor
PAD_TO = 32


def build_reranked(vectors: npt.NDArray[np.float32]) -> faiss.Index:
    """(n, d) item vectors -> the re-ranked index over them, under inner product."""
    dim = vectors.shape[1]
    padded = -(-dim // PAD_TO) * PAD_TO
    quantiser = faiss.IndexScalarQuantizer(
        padded, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    base = faiss.IndexPreTransform(faiss.RemapDimensionsTransform(dim, padded), quantiser)
    base.train(vectors)
    index = faiss.IndexRefineFlat(base)
    index.add(vectors)
    return index


def is_reranked(index: faiss.Index) -> bool:
    """Whether `index` (as read back from a file) has the structure build_reranked gives."""
    index = faiss.downcast_index(index)
    if not isinstance(index, faiss.IndexRefineFlat):
        return False
    base = faiss.downcast_index(index.base_index)
    if not isinstance(base, faiss.IndexPreTransform):
        return False
    quantiser = faiss.downcast_index(base.index)
    return (
        isinstance(quantiser, faiss.IndexScalarQuantizer)
        and quantiser.sq.qtype == faiss.ScalarQuantizer.QT_8bit
        and index.metric_type == faiss.METRIC_INNER_PRODUCT
    )
