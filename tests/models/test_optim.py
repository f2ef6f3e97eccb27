"""SparseAdagradMomentum against Adagrad with momentum written out in numpy."""

import numpy as np
import numpy.typing as npt
import pytest
import torch
from torch import nn

from models.optim import SparseAdagradMomentum

LR, MOMENTUM, EPS = 0.1, 0.5, 1e-6
Array = npt.NDArray[np.float64]


def adagrad_momentum(
    value: Array, grads: list[Array], lr: float, momentum: float, eps: float
) -> tuple[Array, Array, Array]:
    """(value, sum of squares, velocity) after one step per gradient, by the formula."""
    sum_sq = np.zeros_like(value)
    velocity = np.zeros_like(value)
    for grad in grads:
        sum_sq = sum_sq + grad**2
        velocity = momentum * velocity - lr * grad / np.sqrt(sum_sq + eps)
        value = value + velocity
    return value, sum_sq, velocity


def test_dense_two_steps_follow_the_formula() -> None:
    start = np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -0.75]])
    grads = [
        np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -0.1]]),
        np.array([[-0.5, 1.0, 0.5], [2.0, -1.0, 0.4]]),
    ]
    p = nn.Parameter(torch.tensor(start))
    optimizer = SparseAdagradMomentum([p], lr=LR, momentum=MOMENTUM, eps=EPS)
    for grad in grads:
        p.grad = torch.tensor(grad)
        assert optimizer.step() is None
    value, sum_sq, velocity = adagrad_momentum(start, grads, LR, MOMENTUM, EPS)
    np.testing.assert_allclose(p.detach().numpy(), value, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(optimizer.state[p]["sum_sq"].numpy(), sum_sq, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["velocity"].numpy(), velocity, rtol=1e-12)
    # momentum matters: the same steps without it end elsewhere
    plain, _, _ = adagrad_momentum(start, grads, LR, 0.0, EPS)
    assert np.abs(plain - value).max() > 1e-2


def test_dense_without_momentum_keeps_no_velocity() -> None:
    start = np.array([1.0, -2.0])
    grads = [np.array([0.5, 0.0]), np.array([-1.5, 2.0])]
    p = nn.Parameter(torch.tensor(start))
    optimizer = SparseAdagradMomentum([p], lr=0.3, momentum=0.0, eps=EPS)
    for grad in grads:
        p.grad = torch.tensor(grad)
        optimizer.step()
    value, _, _ = adagrad_momentum(start, grads, 0.3, 0.0, EPS)
    np.testing.assert_allclose(p.detach().numpy(), value, rtol=1e-12)
    assert "velocity" not in optimizer.state[p]


def test_parameter_without_gradient_is_left_alone() -> None:
    a = nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
    b = nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
    optimizer = SparseAdagradMomentum([a, b], lr=LR, momentum=MOMENTUM)
    a.grad = torch.tensor([1.0, -1.0], dtype=torch.float64)
    optimizer.step()
    assert b.tolist() == [3.0, 4.0]
    assert optimizer.state[b]["sum_sq"].tolist() == [0.0, 0.0]
    assert a.tolist() != [1.0, 2.0]


def test_sparse_embedding_updates_only_touched_rows() -> None:
    torch.manual_seed(0)
    embedding = nn.Embedding(6, 3, sparse=True, dtype=torch.float64)
    start = embedding.weight.detach().numpy().copy()
    optimizer = SparseAdagradMomentum(embedding.parameters(), lr=LR, momentum=MOMENTUM, eps=EPS)
    p = embedding.weight
    coefficients = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1], [2.0, 1.0, -0.5]])

    def run_step(rows: list[int]) -> None:
        # loss = sum_k <weight[rows[k]], coefficients[k]>: row r gets the sum of its coefficients
        optimizer.zero_grad()
        looked_up = embedding(torch.tensor(rows))
        loss = (looked_up * torch.tensor(coefficients[: len(rows)])).sum()
        (grad,) = torch.autograd.grad(loss, p)
        assert grad.is_sparse
        # the gradient holds one entry per lookup: a repeated row is not yet summed
        assert grad._indices()[0].tolist() == rows
        p.grad = grad
        optimizer.step()

    # step 1: row 1 twice (coefficients 0 and 2), row 4 once (coefficient 1)
    run_step([1, 4, 1])
    g1_row1 = coefficients[0] + coefficients[2]  # coalesced: [3.0, -1.0, 0.0]
    g1_row4 = coefficients[1]
    row1, sum_sq1, velocity1 = adagrad_momentum(start[1], [g1_row1], LR, MOMENTUM, EPS)
    row4_after_1, _, _ = adagrad_momentum(start[4], [g1_row4], LR, MOMENTUM, EPS)
    weight = p.detach().numpy()
    np.testing.assert_allclose(weight[1], row1, rtol=1e-12)
    np.testing.assert_allclose(weight[4], row4_after_1, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["sum_sq"][1].numpy(), sum_sq1, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["velocity"][1].numpy(), velocity1, rtol=1e-12)
    # adding the squares of the two lookups separately would be a different accumulator
    assert not np.allclose(sum_sq1, coefficients[0] ** 2 + coefficients[2] ** 2)
    for row in (0, 2, 3, 5):
        assert weight[row].tolist() == start[row].tolist()
        assert optimizer.state[p]["sum_sq"][row].tolist() == [0.0, 0.0, 0.0]
        assert optimizer.state[p]["velocity"][row].tolist() == [0.0, 0.0, 0.0]

    # step 2: row 4 again (its momentum carries over), row 2 for the first time, row 1 idle
    run_step([4, 2])
    row4, sum_sq4, velocity4 = adagrad_momentum(
        start[4], [g1_row4, coefficients[0]], LR, MOMENTUM, EPS
    )
    row2, _, _ = adagrad_momentum(start[2], [coefficients[1]], LR, MOMENTUM, EPS)
    weight = p.detach().numpy()
    np.testing.assert_allclose(weight[4], row4, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["sum_sq"][4].numpy(), sum_sq4, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["velocity"][4].numpy(), velocity4, rtol=1e-12)
    np.testing.assert_allclose(weight[2], row2, rtol=1e-12)
    # row 1 was not looked up: value, accumulator and velocity stay as step 1 left them
    np.testing.assert_allclose(weight[1], row1, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["sum_sq"][1].numpy(), sum_sq1, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[p]["velocity"][1].numpy(), velocity1, rtol=1e-12)
    for row in (0, 3, 5):
        assert weight[row].tolist() == start[row].tolist()
        assert optimizer.state[p]["sum_sq"][row].tolist() == [0.0, 0.0, 0.0]


def test_sparse_matches_dense_on_the_touched_rows() -> None:
    torch.manual_seed(1)
    sparse = nn.Embedding(5, 2, sparse=True)
    dense = nn.Embedding(5, 2, sparse=False)
    with torch.no_grad():
        dense.weight.copy_(sparse.weight)
    opt_sparse = SparseAdagradMomentum(sparse.parameters(), lr=LR, momentum=0.0)
    opt_dense = SparseAdagradMomentum(dense.parameters(), lr=LR, momentum=0.0)
    rows = torch.tensor([0, 3, 3])
    for module, optimizer in ((sparse, opt_sparse), (dense, opt_dense)):
        optimizer.zero_grad()
        loss = module(rows).pow(2).sum()
        (grad,) = torch.autograd.grad(loss, module.weight)
        module.weight.grad = grad
        optimizer.step()
    # without momentum, a zero dense gradient is a zero step: both agree everywhere
    torch.testing.assert_close(sparse.weight, dense.weight)


@pytest.mark.parametrize(
    ("lr", "momentum", "eps"),
    [(0.0, 0.0, 1e-6), (0.1, 1.0, 1e-6), (0.1, -0.1, 1e-6), (0.1, 0.0, 0.0)],
)
def test_rejects_bad_hyperparameters(lr: float, momentum: float, eps: float) -> None:
    p = nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="lr > 0"):
        SparseAdagradMomentum([p], lr=lr, momentum=momentum, eps=eps)
