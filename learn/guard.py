"""Guarded publish: a candidate reaches users only if it is not worse than what serves.

Both models rank every item for each new event of the sessions held back from this round
(their contexts build the state), with the evaluation protocol's Recall@20 and MRR@20.
Events whose item the serving model lacks are left out of both, as the protocol drops items
unknown to training. Too few events decide nothing: the candidate is kept back. The verdict
is paired and one-sided (`judge`), so that noise alone neither blocks nor passes a round.
Each round may lose up to the tolerance against the serving model, so a second bound holds
the candidate against the base model the learner started from (`against_base`): small
losses cannot add up round after round.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from learn.joiner import Fragment
from models.evaluate import gru_predictions
from models.metrics import conservative_ranks
from models.sessions import Sessions
from models.train import Checkpoint, model_from_checkpoint
from models.vocab import ItemVocab

Z = 2.0  # standard errors of the paired difference: a worse verdict must be this sure


@dataclass(frozen=True, slots=True)
class Verdict:
    publish: bool
    reason: str  # "better", "within tolerance", "worse", "too few events", "drifted"
    events: int
    candidate: dict[str, float]
    serving: dict[str, float]
    base: "Verdict | None" = None  # the candidate against the base model (against_base)


def held_back_sessions(
    vocab: ItemVocab, fragments: Sequence[Fragment]
) -> tuple[Sessions, np.ndarray]:
    """Sessions over `vocab`'s rows (unknown items left out) and each one's first target."""
    items, weights, scored_from = [], [], []
    for fragment in fragments:
        context = [
            (i, w)
            for i, w in zip(fragment.context_items, fragment.context_weights, strict=True)
            if i in vocab.row_of
        ]
        new = [
            (i, w)
            for i, w in zip(fragment.items, fragment.weights, strict=True)
            if i in vocab.row_of
        ]
        if not new or len(context) + len(new) < 2:
            continue
        items.append(vocab.rows(i for i, _ in context + new))
        weights.append([w for _, w in context + new])
        scored_from.append(max(len(context), 1))
    return Sessions.from_lists(items, weights), np.array(scored_from, dtype=np.int64)


def hits_and_ranks(
    checkpoint: Checkpoint, sessions: Sessions, scored_from: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """(n_events,) conservative rank of each held-back target, in one fixed order."""
    predictions = gru_predictions(
        model_from_checkpoint(checkpoint), sessions, scored_from=scored_from
    )
    ranks = [conservative_ranks(scores, targets) for scores, targets in predictions]
    return np.concatenate(ranks) if ranks else np.zeros(0, dtype=np.int64)


def summary(ranks: npt.NDArray[np.int64]) -> dict[str, float]:
    within = ranks <= 20
    return {
        "recall@20": float(within.mean()),
        "mrr@20": float(np.where(within, 1.0 / ranks, 0.0).mean()),
        "events": float(len(ranks)),
    }


def judge(
    candidate: Checkpoint,
    serving: Checkpoint,
    held_back: Sequence[Fragment],
    tolerance: float,
    min_events: int,
    z: float = Z,
) -> Verdict:
    """Kept back only when the candidate is worse than the serving model by more than
    `tolerance` (relative Recall@20) with confidence: the paired difference of their hits on
    the same events, plus z standard errors, still below -tolerance x the serving recall. A
    few hundred held-back events put a plain comparison within noise of either verdict."""
    sessions, scored_from = held_back_sessions(ItemVocab(tuple(serving["item_ids"])), held_back)
    if sessions.n_sessions == 0:
        return Verdict(False, "too few events", 0, {}, {})
    new = hits_and_ranks(candidate, sessions, scored_from)
    old = hits_and_ranks(serving, sessions, scored_from)
    results = {"candidate": summary(new), "serving": summary(old)} if len(old) else {}
    if len(old) < min_events:
        return Verdict(
            False,
            "too few events",
            len(old),
            results.get("candidate", {}),
            results.get("serving", {}),
        )
    difference = (new <= 20).astype(np.float64) - (old <= 20)
    bound = difference.mean() + z * difference.std(ddof=1) / np.sqrt(len(difference))
    gap = float(difference.mean())
    reason = "better" if gap >= 0 else "within tolerance"
    publish = bound >= -tolerance * results["serving"]["recall@20"]
    results["candidate"]["paired_difference"] = gap
    results["candidate"]["upper_bound"] = float(bound)
    return Verdict(
        publish, reason if publish else "worse", len(old), results["candidate"], results["serving"]
    )


def against_base(
    verdict: Verdict,
    candidate: Checkpoint,
    base: Checkpoint,
    held_back: Sequence[Fragment],
    tolerance: float,
    min_events: int,
) -> Verdict:
    """A publishable verdict kept back as "drifted" where the candidate is also worse than the
    base model by more than `tolerance`, by the same paired test on the held-back events whose
    item the base knows. Too few such events (a catalogue mostly uploaded since) bound nothing."""
    if not verdict.publish:
        return verdict
    drift = judge(candidate, base, held_back, tolerance, min_events)
    if drift.reason == "worse":
        return replace(verdict, publish=False, reason="drifted", base=drift)
    return replace(verdict, base=drift)
