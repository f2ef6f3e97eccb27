"""Cold items in a trained model: hold them out, splice them from sessions, then step and rank
with their rows given (projected from titles, borrowed at random, or unreachable).

The ranking is the evaluation protocol's (DESIGN.md): every item ranked, cold and warm
together, ties against the model (models/metrics.py), the state from zero per session.
"""

import numpy as np
import numpy.typing as npt
import torch

from models.gru4rec import GRU4Rec
from models.metrics import RankingMetrics, conservative_ranks
from models.sessions import Sessions

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


def choose_cold(n_items: int, fraction: float, seed: int) -> Mask:
    """(n_items,) true for a seeded `fraction` of the rows (at least one)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rows = np.random.default_rng(seed).choice(n_items, max(1, round(fraction * n_items)), False)
    cold = np.zeros(n_items, dtype=bool)
    cold[rows] = True
    return cold


def splice(sessions: Sessions, drop: Mask, min_length: int) -> Sessions:
    """The sessions with the events of dropped items cut out, then those of min_length or more.

    The neighbours of a cut event become neighbours: a session [a, cold, b] trains a -> b.
    """
    keep_event = ~drop[sessions.items]  # (n_events,)
    session_of_event = np.repeat(np.arange(sessions.n_sessions), sessions.lengths)
    lengths = np.bincount(session_of_event[keep_event], minlength=sessions.n_sessions)
    offsets = np.zeros(sessions.n_sessions + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    spliced = Sessions(sessions.items[keep_event], offsets, sessions.weights[keep_event])
    return spliced.select(lengths >= min_length)


@torch.no_grad()
def gru_states(
    model: GRU4Rec,
    sessions: Sessions,
    inputs: F32,  # (n_items, H) input embedding of each row
    skip: Mask | None = None,  # (n_items,) rows that leave the state as it was
    max_sessions: int = 512,
) -> tuple[F32, I64]:
    """(m, H) state after each event that has a next one, and (m,) that next item's row.

    Sessions step in parallel, position by position, from a zero state; a skipped item is
    no input at all (the warm-only model cannot embed a cold one) but still a target.
    """
    model.eval()
    skip_rows = torch.from_numpy(skip) if skip is not None else None
    states: list[F32] = []
    targets: list[I64] = []
    for first in range(0, sessions.n_sessions, max_sessions):
        chunk = np.arange(first, min(first + max_sessions, sessions.n_sessions))
        starts, lengths = sessions.offsets[chunk], sessions.lengths[chunk]
        hidden = torch.zeros(len(chunk), model.hidden_size)
        for t in range(int(lengths.max(initial=0)) - 1):
            active = np.flatnonzero(lengths > t + 1)  # sessions with a target after position t
            events = starts[active] + t
            items = sessions.items[events]
            before = hidden[active]
            after = model.step_vector(
                torch.from_numpy(inputs[items]), torch.from_numpy(sessions.weights[events]), before
            )
            if skip_rows is not None:
                after = torch.where(skip_rows[items][:, None], before, after)
            hidden[active] = after
            states.append(after.numpy())
            targets.append(sessions.items[events + 1])
    if not states:
        return np.zeros((0, model.hidden_size), np.float32), np.zeros(0, np.int64)
    return np.concatenate(states), np.concatenate(targets)


def state_points(sessions: Sessions, max_sessions: int = 512) -> tuple[I64, I64]:
    """(m,) session and prefix length of each state gru_states returns, in its order (chunks
    of sessions, position by position): the two loops must walk alike (tests/models/
    test_cold_blend.py checks it)."""
    session_index: list[I64] = []
    prefix: list[I64] = []
    for first in range(0, sessions.n_sessions, max_sessions):
        chunk = np.arange(first, min(first + max_sessions, sessions.n_sessions))
        lengths = sessions.lengths[chunk]
        for t in range(int(lengths.max(initial=0)) - 1):
            active = chunk[lengths > t + 1]
            session_index.append(active)
            prefix.append(np.full(len(active), t + 1, dtype=np.int64))
    if not session_index:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(session_index), np.concatenate(prefix)


def rank_rows(
    states: F32,  # (m, H)
    targets: I64,  # (m,)
    rows: F32,  # (n_items, H + 1) [embedding | bias] of every item
    unreachable: Mask | None = None,  # (n_items,) rows that never score: always ranked last
    chunk: int = 1024,
) -> I64:
    """(m,) conservative rank of each target among all rows; an unreachable target ranks last."""
    ranks = np.zeros(len(targets), dtype=np.int64)
    for first in range(0, len(targets), chunk):
        part = slice(first, first + chunk)
        scores = states[part] @ rows[:, :-1].T + rows[:, -1]  # (b, n_items)
        if unreachable is not None:
            scores[:, unreachable] = -np.inf  # a -inf target ties every row: rank n_items
        ranks[part] = conservative_ranks(scores, targets[part])
    return ranks


def shifted_ranks(
    states: F32, targets: I64, rows: F32, cold: Mask, shifts: F32, chunk: int = 1024
) -> I64:
    """(len(shifts), m) ranks when `shift` is added to the cold items' scores, for each shift.

    Exactly conservative_ranks of the scores with the cold columns shifted, at a fraction of
    the cost: a warm target's count of warm items at or above it does not move with the shift.
    """
    ranks = np.zeros((len(shifts), len(targets)), dtype=np.int64)
    cold_target = cold[targets]
    for first in range(0, len(targets), chunk):
        part = slice(first, first + chunk)
        scores = states[part] @ rows[:, :-1].T + rows[:, -1]  # (b, n_items) unshifted
        if not np.isfinite(scores).all():
            raise ValueError("scores must be finite")
        own = scores[np.arange(len(scores)), targets[part]][:, None]  # (b, 1)
        is_cold = cold_target[part]
        warm_rows, cold_rows = np.flatnonzero(~is_cold), np.flatnonzero(is_cold)
        warm_of_warm = scores[warm_rows][:, ~cold]  # warm targets' rows, warm columns
        cold_of_warm = scores[warm_rows][:, cold]
        warm_of_cold = scores[cold_rows][:, ~cold]
        cold_of_cold = scores[cold_rows][:, cold]
        warm_fixed = (warm_of_warm >= own[warm_rows]).sum(axis=1)
        for i, shift in enumerate(shifts):
            lifted = cold_of_warm + shift
            ranks[i, first + warm_rows] = warm_fixed + (lifted >= own[warm_rows]).sum(axis=1)
            target = own[cold_rows] + shift
            ranks[i, first + cold_rows] = (warm_of_cold >= target).sum(axis=1) + (
                cold_of_cold + shift >= target
            ).sum(axis=1)
    return ranks


def split_metrics(ranks: I64, cold_target: Mask) -> dict[str, dict[str, float]]:
    """Recall@20 and MRR@20 over cold targets, warm targets and all, with their counts."""
    out: dict[str, dict[str, float]] = {}
    for name, subset in (("cold", cold_target), ("warm", ~cold_target), ("all", None)):
        chosen = ranks if subset is None else ranks[subset]
        metrics = RankingMetrics(cutoffs=(20,))
        metrics.add(chosen)
        values = metrics.result() if len(chosen) else {"recall@20": 0.0, "mrr@20": 0.0}
        out[name] = {**values, "events": float(len(chosen))}
    return out
