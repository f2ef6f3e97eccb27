"""A projection trained on what it is for: ranking a new item where its sessions go next.

Ridge and the MLP fit [Wy | By] by squared error, which spends its capacity on directions
no session state looks along. Here the projection is trained by the next-item softmax itself,
each item treated as new: for a state whose next item is i, i's row is replaced by the
projection of i's title and must outrank every trained item (their log-partition is computed
once, the trained rows being fixed) and the batch's other projected items (new items compete
with each other too, as a catalogue's uploads do). The result is one affine layer, judged and
exported like ridge; the number of steps is a candidate parameter chosen on held-out items.
"""

import numpy as np
import numpy.typing as npt
import torch

from models.config import PROJECTION_RANKED_STEPS

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

RANKED_BATCH = 1024
RANKED_LEARNING_RATE = 1e-3
RANKED_WEIGHT_DECAY = 1e-4
CHUNK = 1024  # rows scored at once (here and in projection.py): bounds the (rows, items) scores


def ranked_snapshots(longest: int) -> tuple[int, ...]:
    """The steps judged for a training of `longest` steps: a tenth, three tenths, all."""
    if longest < 1:
        raise ValueError(f"the ranked projection needs at least one step, got {longest}")
    return tuple(sorted({max(1, longest // 10), max(1, 3 * longest // 10), longest}))


RANKED_STEPS = ranked_snapshots(PROJECTION_RANKED_STEPS)  # the default config's


def log_partition_without_target(states: F32, rows: F32, targets: I64) -> F32:
    """(m,) log sum_j!=target exp(state . e_j + b_j) over the (n, H + 1) fixed rows."""
    out = np.zeros(len(states), dtype=np.float32)
    for first in range(0, len(states), CHUNK):
        part = slice(first, first + CHUNK)
        scores = states[part] @ rows[:, :-1].T + rows[:, -1]
        scores[np.arange(len(scores)), targets[part]] = -np.inf
        top = scores.max(axis=1, keepdims=True)
        out[part] = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
    return out


def fit_ranked(
    content: F32,  # (n, D) the fitted items' content vectors
    rows: F32,  # (n, H + 1) their [embedding | bias]
    states: F32,  # (m, H) states whose next item is among the n
    targets: I64,  # (m,) that item's place among the n
    start: tuple[F32, F32],  # (D, H + 1), (H + 1,): the affine layer training starts from
    seed: int,
    steps: tuple[int, ...] = RANKED_STEPS,
) -> list[tuple[int, F32, F32]]:
    """(steps, weight, bias) of the affine layer after each of `steps`, in order."""
    if not len(states):
        return []
    generator = torch.Generator().manual_seed(seed)
    others = torch.from_numpy(log_partition_without_target(states, rows, targets))
    h = torch.from_numpy(states.astype(np.float32))
    x = torch.from_numpy(content.astype(np.float32))
    target = torch.from_numpy(targets.astype(np.int64))
    weight = torch.nn.Parameter(torch.from_numpy(start[0].astype(np.float32).copy()))
    bias = torch.nn.Parameter(torch.from_numpy(start[1].astype(np.float32).copy()))
    optimizer = torch.optim.AdamW(
        [weight, bias], lr=RANKED_LEARNING_RATE, weight_decay=RANKED_WEIGHT_DECAY
    )
    snapshots = []
    for step in range(1, max(steps) + 1):
        batch = torch.randint(0, len(h), (min(RANKED_BATCH, len(h)),), generator=generator)
        items = target[batch]
        projected = x[items] @ weight + bias  # (B, H + 1)
        logits = h[batch] @ projected[:, :-1].T + projected[:, -1]  # (B, B): new items
        same = items[:, None] == items[None, :]  # a repeated item is one column, its own
        logits = logits.masked_fill(same & ~torch.eye(len(batch), dtype=torch.bool), -torch.inf)
        logits = torch.cat([logits, others[batch, None]], dim=1)  # and every trained item
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        if step in steps:
            snapshots.append((step, weight.detach().numpy().copy(), bias.detach().numpy().copy()))
    return snapshots
