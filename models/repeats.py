"""Repeat consumption: the share of the next-item distribution that goes to the session's own items.

In e-commerce logs a third of next items were already viewed in the session (the Diginetica
sample: 96 of 312 test targets), and GRU4Rec's softmax ranks only three in four of them in its
top 20. RepeatNet (Ren et al., AAAI 2019) mixes a repeat mode with an explore mode; here the
gate is one number chosen on validation (`repeat_share`, `make tune`):

    p(i) = (1 - share) * softmax(h . Wy + By)(i) + share * recency(i)

recency(i) is 1 / steps back to the item's last view in the session (the latest 1, the one
before 1/2, ...; V-SKNN's position decay), normalised over the session's items. A feed that
drops what the session has seen (the service) never ranks those items, so there the share
changes nothing; on MicroLens, whose sequences never repeat an item, validation keeps 0.
"""

import numpy as np
import numpy.typing as npt

from models.sessions import Sessions

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
REPEAT_SHARES = (0.0, 0.1, 0.2, 0.3, 0.5)  # the candidates validation chooses among


def has_repeats(sessions: Sessions) -> bool:
    """Whether any next item was already in its session: else a share cannot help."""
    session = np.repeat(np.arange(sessions.n_sessions, dtype=np.int64), sessions.lengths)
    pairs = session * (int(sessions.items.max(initial=0)) + 1) + sessions.items
    return len(np.unique(pairs)) < len(pairs)


def recency(
    sessions: Sessions, starts: I64, positions: I64, n_items: int
) -> npt.NDArray[np.float64]:
    """(b, n_items): for the session starting at `starts[r]` seen up to `positions[r]`
    (inclusive), each item's 1 / steps back to its last view, normalised to sum 1."""
    weights = np.zeros((len(starts), n_items), dtype=np.float64)
    for back in range(int(positions.max(initial=-1)) + 1):
        rows = np.flatnonzero(positions >= back)
        items = sessions.items[starts[rows] + positions[rows] - back]
        np.maximum.at(weights, (rows, items), 1.0 / (back + 1))
    total = weights.sum(axis=1, keepdims=True)
    np.divide(weights, total, out=weights, where=total > 0)
    return weights


def softmax(scores: F32) -> npt.NDArray[np.float64]:
    """(b, n_items) scores -> the model's next-item probabilities, in float64."""
    shifted: npt.NDArray[np.float64] = np.exp(
        scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    )
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def mix(
    probabilities: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], share: float
) -> F32:
    """(b, n_items) model probabilities and recency weights -> the mixture's log-probabilities,
    float32 as the ranking takes them (the log keeps apart what float32 probabilities of 1e-40
    would tie)."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"repeat_share must be in [0, 1), got {share}")
    with np.errstate(divide="ignore"):  # an item no state reaches and never seen: -inf
        mixed: F32 = np.log((1.0 - share) * probabilities + share * weights).astype(np.float32)
    return mixed
