"""Guarded publish: a candidate reaches users only if it is not worse than what serves.

Both models rank every item for each new event of the sessions held back from this round
(their contexts build the state), with the evaluation protocol's Recall@20 and MRR@20.
Events whose item the serving model lacks are left out of both, as the protocol drops items
unknown to training. Too few events decide nothing: the candidate is kept back.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from learn.joiner import Fragment
from models.evaluate import gru_predictions, measure
from models.sessions import Sessions
from models.train import Checkpoint, model_from_checkpoint
from models.vocab import ItemVocab


@dataclass(frozen=True, slots=True)
class Verdict:
    publish: bool
    reason: str  # "better", "within tolerance", "worse", "too few events"
    events: int
    candidate: dict[str, float]
    serving: dict[str, float]


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


def judge(
    candidate: Checkpoint,
    serving: Checkpoint,
    held_back: Sequence[Fragment],
    tolerance: float,
    min_events: int,
) -> Verdict:
    """Publish when the candidate's Recall@20 is at least (1 - tolerance) of the serving one's."""
    sessions, scored_from = held_back_sessions(ItemVocab(tuple(serving["item_ids"])), held_back)
    results = {}
    for name, checkpoint in (("candidate", candidate), ("serving", serving)):
        if sessions.n_sessions == 0:
            results[name] = {"events": 0.0}
            continue
        predictions = gru_predictions(
            model_from_checkpoint(checkpoint), sessions, scored_from=scored_from
        )
        try:
            results[name] = measure(predictions)
        except ValueError:  # no event to rank
            results[name] = {"events": 0.0}
    events = int(results["serving"].get("events", 0))
    if events < min_events:
        return Verdict(False, "too few events", events, results["candidate"], results["serving"])
    new, old = results["candidate"]["recall@20"], results["serving"]["recall@20"]
    if new >= old:
        return Verdict(True, "better", events, results["candidate"], results["serving"])
    if new >= old * (1.0 - tolerance):
        return Verdict(True, "within tolerance", events, results["candidate"], results["serving"])
    return Verdict(False, "worse", events, results["candidate"], results["serving"])
