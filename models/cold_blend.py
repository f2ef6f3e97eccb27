"""Cold items ranked by the model and by their titles at once: the projected score plus
`weight` x content-kNN's score (title cosine to the session's recent items), for cold items
only, so that warm items rank exactly as the model ranks them.

Content-kNN beats the projection on cold targets because it compares a candidate with this
session's last items, where a projection places an item once for every session; the blend
keeps both. Its weight and the cold rows' bias shift are chosen together on validation, the
largest cold Recall@20 whose warm Recall@20 stays within the tolerance of the warm-only
model's. A served feed can compute it in one inner product: [h, 1, q] . [e, b, weight c],
with q the session's recent title vectors and c an upload's.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.cold_start import F32, I64, Mask, state_points
from models.content_knn import ContentKNN
from models.metrics import RankingMetrics, conservative_ranks
from models.sessions import Sessions

# content-kNN's weight in units of the trained items' bias spread (its sd), the unit of the
# projection's bias shifts too, so that the grid fits any data set's score scale
BLEND_WEIGHTS_SD = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def blended_ranks(
    states: F32,  # (m, H) from gru_states
    targets: I64,  # (m,)
    rows: F32,  # (n_items, H + 1) [embedding | bias], cold rows unshifted
    cold: Mask,  # (n_items,)
    knn: ContentKNN,
    sessions: Sessions,  # the sessions gru_states stepped
    shifts: Sequence[float],
    weights: Sequence[float],
    chunk: int = 512,
) -> npt.NDArray[np.int64]:
    """(len(shifts), len(weights), m) conservative ranks of the targets when each cold item
    scores model + shift + weight x content-kNN."""
    session_index, prefix = state_points(sessions)
    if len(session_index) != len(targets):
        raise ValueError("states and sessions disagree: pass the sessions gru_states stepped")
    ranks = np.zeros((len(shifts), len(weights), len(targets)), dtype=np.int64)
    for first in range(0, len(targets), chunk):
        part = slice(first, first + chunk)
        scores = states[part] @ rows[:, :-1].T + rows[:, -1]  # (b, n_items)
        content = knn.score(sessions, session_index[part], prefix[part])[:, cold]
        content[~np.isfinite(content)] = 0.0  # the window's own items: the model alone
        model_cold = scores[:, cold]
        for i, shift in enumerate(shifts):
            for j, weight in enumerate(weights):
                scores[:, cold] = model_cold + shift + weight * content
                ranks[i, j, part] = conservative_ranks(scores, targets[part])
    return ranks


def recall_at_20(ranks: npt.NDArray[np.int64]) -> float:
    metrics = RankingMetrics(cutoffs=(20,))
    metrics.add(ranks)
    return metrics.result()["recall@20"] if len(ranks) else 0.0


@dataclass(frozen=True, slots=True)
class BlendChoice:
    shift: float
    weight: float
    cold_recall: float  # validation Recall@20 of the cold targets, at the choice
    warm_recall: float


def choose_blend(
    ranks: npt.NDArray[np.int64],  # from blended_ranks on validation
    cold_target: Mask,  # (m,)
    shifts: Sequence[float],
    weights: Sequence[float],
    warm_bar: float,  # the least warm Recall@20 allowed
) -> BlendChoice:
    """The best cold Recall@20 whose warm Recall@20 is at least `warm_bar`; (0, 0) when
    nothing clears the bar."""
    best: BlendChoice | None = None
    for i, shift in enumerate(shifts):
        for j, weight in enumerate(weights):
            warm = recall_at_20(ranks[i, j, ~cold_target])
            cold = recall_at_20(ranks[i, j, cold_target])
            if warm >= warm_bar and (best is None or cold > best.cold_recall):
                best = BlendChoice(float(shift), float(weight), cold, warm)
    return best if best is not None else BlendChoice(0.0, 0.0, 0.0, 0.0)
