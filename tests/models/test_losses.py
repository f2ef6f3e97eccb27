"""The ranking losses against the module docstring's formulas, computed with plain math."""

import math

import pytest
import torch

from models.losses import bpr, bpr_max, cross_entropy, negative_mask

# three rows (targets 7, 2, 7) and two extra samples (5, 2): item 7 repeats as a target and
# item 2 is drawn as a sample, so each row has one column that holds its own target elsewhere
CANDIDATES = [7, 2, 7, 5, 2]
SCORES = [
    [1.0, -0.5, 0.3, 2.0, 0.1],
    [0.2, 0.8, -1.0, 0.5, 1.5],
    [-0.3, 0.4, 0.9, -2.0, 0.7],
]
# columns that are true negatives, worked out by hand from CANDIDATES
NEGATIVES = [
    [1, 3, 4],  # row 0, target 7: column 2 is item 7 again
    [0, 2, 3],  # row 1, target 2: column 4 is item 2 again
    [1, 3, 4],  # row 2, target 7: column 0 is item 7 again
]
LOG_Q = [-1.5, -0.25, -1.5, -3.0, -0.5]  # per column, as the trainer would pass it


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def elu(x: float, alpha: float) -> float:
    return x if x > 0 else alpha * (math.exp(x) - 1.0)


def tensors() -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.tensor(SCORES, dtype=torch.float64)
    negatives = negative_mask(torch.tensor(CANDIDATES), len(SCORES))
    return scores, negatives


def bpr_max_by_hand(scores: list[list[float]], bpreg: float) -> float:
    total = 0.0
    for i, row in enumerate(scores):
        target = row[i]
        z = sum(math.exp(row[j]) for j in NEGATIVES[i])
        s = {j: math.exp(row[j]) / z for j in NEGATIVES[i]}
        ranking = sum(s[j] * sigmoid(target - row[j]) for j in NEGATIVES[i])
        regulariser = sum(s[j] * row[j] ** 2 for j in NEGATIVES[i])
        total += -math.log(ranking) + bpreg * regulariser
    return total


def test_negative_mask_by_hand() -> None:
    mask = negative_mask(torch.tensor(CANDIDATES), 3)
    expected = [
        [False, True, False, True, True],
        [True, False, True, True, False],
        [False, True, False, True, True],
    ]
    assert mask.dtype == torch.bool
    assert mask.tolist() == expected
    for i, row in enumerate(expected):
        assert [j for j, negative in enumerate(row) if negative] == NEGATIVES[i]


def test_negative_mask_without_repeats_masks_only_the_diagonal() -> None:
    mask = negative_mask(torch.tensor([4, 1, 0, 9]), 2)
    assert mask.tolist() == [[False, True, True, True], [True, False, True, True]]


def test_bpr_max_without_elu() -> None:
    scores, negatives = tensors()
    got = bpr_max(scores, negatives, bpreg=0.5, elu_param=0.0)
    assert got.shape == ()
    assert got.item() == pytest.approx(bpr_max_by_hand(SCORES, 0.5), rel=1e-12)
    no_reg = bpr_max(scores, negatives, bpreg=0.0, elu_param=0.0)
    assert no_reg.item() == pytest.approx(bpr_max_by_hand(SCORES, 0.0), rel=1e-12)


def test_bpr_max_with_elu() -> None:
    scores, negatives = tensors()
    got = bpr_max(scores, negatives, bpreg=0.9, elu_param=0.7)
    transformed = [[elu(x, 0.7) for x in row] for row in SCORES]
    assert got.item() == pytest.approx(bpr_max_by_hand(transformed, 0.9), rel=1e-12)
    # the ELU changes the negative scores, so the two settings must differ
    plain = bpr_max_by_hand(SCORES, 0.9)
    assert abs(got.item() - plain) > 1e-3


def test_bpr_max_ignores_masked_columns() -> None:
    scores, negatives = tensors()
    base = bpr_max(scores, negatives, bpreg=0.5, elu_param=0.0)
    moved = scores.clone()
    moved[0, 2] = 50.0  # row 0's repeated target column: not a negative
    moved[1, 4] = -50.0  # row 1's repeated target column
    assert bpr_max(moved, negatives, bpreg=0.5, elu_param=0.0).item() == pytest.approx(
        base.item(), rel=1e-12
    )


def test_bpr() -> None:
    scores, negatives = tensors()
    expected = 0.0
    for i, row in enumerate(SCORES):
        losses = [-math.log(sigmoid(row[i] - row[j])) for j in NEGATIVES[i]]
        expected += sum(losses) / len(losses)
    assert bpr(scores, negatives).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_without_log_q() -> None:
    scores, negatives = tensors()
    expected = 0.0
    for i, row in enumerate(SCORES):
        z = math.exp(row[i]) + sum(math.exp(row[j]) for j in NEGATIVES[i])
        expected += -math.log(math.exp(row[i]) / z)
    assert cross_entropy(scores, negatives, None, 0.0).item() == pytest.approx(expected, rel=1e-12)
    log_q = torch.tensor(LOG_Q, dtype=torch.float64)
    # logq = 0 switches the correction off even when log_q is given
    assert cross_entropy(scores, negatives, log_q, 0.0).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("logq", [1.0, 0.5])
def test_cross_entropy_with_log_q(logq: float) -> None:
    scores, negatives = tensors()
    expected = 0.0
    for i, row in enumerate(SCORES):
        corrected = [r - logq * q for r, q in zip(row, LOG_Q, strict=True)]
        z = math.exp(corrected[i]) + sum(math.exp(corrected[j]) for j in NEGATIVES[i])
        expected += -(corrected[i] - math.log(z))
    log_q = torch.tensor(LOG_Q, dtype=torch.float64)
    got = cross_entropy(scores, negatives, log_q, logq)
    assert got.item() == pytest.approx(expected, rel=1e-12)
    uncorrected = cross_entropy(scores, negatives, None, 0.0).item()
    assert abs(got.item() - uncorrected) > 1e-2


def test_losses_in_float32_match() -> None:
    scores64, negatives = tensors()
    scores = scores64.float()
    assert bpr_max(scores, negatives, 0.5, 1.0).item() == pytest.approx(
        bpr_max(scores64, negatives, 0.5, 1.0).item(), rel=1e-5
    )
    assert bpr(scores, negatives).item() == pytest.approx(bpr(scores64, negatives).item(), rel=1e-5)
    assert cross_entropy(scores, negatives, None, 0.0).item() == pytest.approx(
        cross_entropy(scores64, negatives, None, 0.0).item(), rel=1e-5
    )


def test_gradients_flow_only_to_the_row_and_its_negatives() -> None:
    base, negatives = tensors()
    for loss in ("bpr-max", "bpr", "cross-entropy"):
        scores = base.clone().requires_grad_(True)
        if loss == "bpr-max":
            value = bpr_max(scores, negatives, 0.5, 1.0)
        elif loss == "bpr":
            value = bpr(scores, negatives)
        else:
            value = cross_entropy(scores, negatives, None, 0.0)
        (grad,) = torch.autograd.grad(value, scores)
        for i in range(3):
            for j in range(5):
                touched = grad[i, j].item() != 0.0
                assert touched == (j == i or j in NEGATIVES[i]), (loss, i, j)


def test_bpr_max_row_without_negatives_adds_nothing() -> None:
    """Two rows sharing their target and no samples: nothing to rank against, not NaN."""
    candidates = torch.tensor([4, 4])
    scores = torch.tensor([[0.3, 0.1], [0.2, 0.5]])
    negatives = negative_mask(candidates, 2)
    assert not negatives.any()
    assert bpr_max(scores, negatives, bpreg=0.5, elu_param=1.0).item() == 0.0
