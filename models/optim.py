"""Adagrad with momentum and sparse row updates, the optimiser GRU4Rec trains with.

Adagrad scales each parameter's step by 1 / sqrt(sum of its squared gradients + eps);
momentum accumulates the scaled steps. For a sparse gradient (the item tables) only the
touched rows' accumulators and values change, so a mini-batch of a few thousand items costs
the same whatever the catalogue size, and rows that were not sampled keep their momentum.
"""

from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer


class SparseAdagradMomentum(Optimizer):
    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 0.05,
        momentum: float = 0.0,
        eps: float = 1e-6,
    ) -> None:
        if lr <= 0 or not 0.0 <= momentum < 1.0 or eps <= 0:
            raise ValueError("lr > 0, momentum in [0, 1) and eps > 0 are required")
        super().__init__(params, {"lr": lr, "momentum": momentum, "eps": eps})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum_sq"] = torch.zeros_like(p)
                if momentum > 0:
                    self.state[p]["velocity"] = torch.zeros_like(p)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        assert closure is None, "closures are not supported"
        for group in self.param_groups:
            lr, momentum, eps = group["lr"], group["momentum"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if p.grad.is_sparse:
                    grad = p.grad.coalesce()  # a row may appear twice; the update is non-linear
                    rows, values = grad.indices()[0], grad.values()
                    sum_sq = state["sum_sq"][rows] + values.pow(2)
                    state["sum_sq"].index_copy_(0, rows, sum_sq)
                    update = values / (sum_sq + eps).sqrt() * -lr
                    if momentum > 0:
                        update = state["velocity"][rows].mul_(momentum).add_(update)
                        state["velocity"].index_copy_(0, rows, update)
                    p.index_add_(0, rows, update)
                else:
                    state["sum_sq"].add_(p.grad.pow(2))
                    update = p.grad / (state["sum_sq"] + eps).sqrt() * -lr
                    if momentum > 0:
                        update = state["velocity"].mul_(momentum).add_(update)
                    p.add_(update)
        return None
