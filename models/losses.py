"""Ranking losses over a mini-batch score matrix with the target of row i in column i.

Columns are the mini-batch's targets followed by the shared extra samples. A column that
holds the row's own target item elsewhere (a repeated target, or a sample that drew it) is
masked out as a negative: it is not one.
- BPR (Hidasi et al., ICLR 2016): mean over negatives of -log sigmoid(r_target - r_neg).
- BPR-max (Hidasi & Karatzoglou, CIKM 2018, eq. 9-10): -log sum_j s_j sigmoid(r_t - r_j)
  + lambda * sum_j s_j r_j^2, where s is the softmax over the negatives' scores.
- Cross-entropy with the log-Q correction (as in sampled softmax): scores minus
  logq * log(probability that the column's item is among the candidates).
Each returns the loss summed over rows, so that the caller picks the normaliser.
"""

import torch
import torch.nn.functional as F

_EPS = 1e-24  # keeps log() finite when every negative outranks the target


def negative_mask(candidates: torch.Tensor, n_rows: int) -> torch.Tensor:
    """(b, c) True where column j is a true negative for row i."""
    targets = candidates[:n_rows]  # (b,)
    return candidates.unsqueeze(0) != targets.unsqueeze(1)


def bpr_max(
    scores: torch.Tensor, negatives: torch.Tensor, bpreg: float, elu_param: float
) -> torch.Tensor:
    if elu_param > 0:
        scores = F.elu(scores, elu_param)
    target = scores.diagonal().unsqueeze(1)  # (b, 1)
    weight = torch.softmax(scores.masked_fill(~negatives, float("-inf")), dim=1)  # (b, c)
    weight = torch.nan_to_num(weight, nan=0.0)  # a row without negatives: softmax of all -inf
    ranking = torch.sum(weight * torch.sigmoid(target - scores), dim=1)
    regulariser = torch.sum(weight * scores.pow(2), dim=1)
    per_row = -torch.log(ranking + _EPS) + bpreg * regulariser
    return torch.sum(per_row * negatives.any(dim=1))  # such a row has nothing to rank against


def bpr(scores: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    target = scores.diagonal().unsqueeze(1)
    pairwise = F.logsigmoid(target - scores) * negatives
    return torch.sum(-pairwise.sum(dim=1) / negatives.sum(dim=1).clamp(min=1))


def cross_entropy(
    scores: torch.Tensor, negatives: torch.Tensor, log_q: torch.Tensor | None, logq: float
) -> torch.Tensor:
    """log_q: (c,) log sampling probability per column, used when logq > 0."""
    if log_q is not None and logq > 0:
        scores = scores - logq * log_q.unsqueeze(0)
    keep = negatives.clone()
    keep.fill_diagonal_(True)  # the target itself stays in the softmax
    log_probs = torch.log_softmax(scores.masked_fill(~keep, float("-inf")), dim=1)
    return -torch.sum(log_probs.diagonal())
