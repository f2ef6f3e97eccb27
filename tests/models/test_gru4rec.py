"""GRU4Rec: the weighted step, scoring, growing the catalogue and the initial ranges."""

import math

import torch
from torch import nn

from models.gru4rec import GRU4Rec

N_ITEMS, HIDDEN = 7, 4


def model_and_state(seed: int = 0) -> tuple[GRU4Rec, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = GRU4Rec(N_ITEMS, HIDDEN).eval()
    with torch.no_grad():  # non-zero biases, so that the comparisons below cover them
        model.item_bias.weight.uniform_(-0.5, 0.5)
        model.cell.bias_ih.uniform_(-0.5, 0.5)
        model.cell.bias_hh.uniform_(-0.5, 0.5)
    items = torch.tensor([3, 0, 6])
    hidden = torch.randn(3, HIDDEN)
    return model, items, hidden


def reference_cell(model: GRU4Rec) -> nn.GRUCell:
    cell = nn.GRUCell(HIDDEN, HIDDEN)
    cell.load_state_dict(model.cell.state_dict())
    return cell


@torch.no_grad()
def test_weight_zero_keeps_the_state_exactly() -> None:
    model, items, hidden = model_and_state()
    out = model.step(items, torch.zeros(3), hidden)
    assert torch.equal(out, hidden)


@torch.no_grad()
def test_weight_one_is_a_plain_gru_step() -> None:
    model, items, hidden = model_and_state()
    out = model.step(items, torch.ones(3), hidden)
    embedded = model.item_embedding.weight[items]
    expected = reference_cell(model)(embedded, hidden)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(out, hidden, atol=1e-3)


@torch.no_grad()
def test_weight_one_matches_the_gru_equations() -> None:
    model, items, hidden = model_and_state(1)
    out = model.step(items, torch.ones(3), hidden)
    x = model.item_embedding.weight[items]
    w_ir, w_iz, w_in = model.cell.weight_ih.chunk(3)
    w_hr, w_hz, w_hn = model.cell.weight_hh.chunk(3)
    b_ir, b_iz, b_in = model.cell.bias_ih.chunk(3)
    b_hr, b_hz, b_hn = model.cell.bias_hh.chunk(3)
    r = torch.sigmoid(x @ w_ir.T + b_ir + hidden @ w_hr.T + b_hr)
    z = torch.sigmoid(x @ w_iz.T + b_iz + hidden @ w_hz.T + b_hz)
    n = torch.tanh(x @ w_in.T + b_in + r * (hidden @ w_hn.T + b_hn))
    torch.testing.assert_close(out, (1 - z) * n + z * hidden, rtol=1e-5, atol=1e-6)


@torch.no_grad()
def test_weight_half_is_the_midpoint_and_weights_are_per_row() -> None:
    model, items, hidden = model_and_state()
    full = model.step(items, torch.ones(3), hidden)
    half = model.step(items, torch.full((3,), 0.5), hidden)
    torch.testing.assert_close(half, (hidden + full) / 2, rtol=1e-6, atol=1e-6)
    mixed = model.step(items, torch.tensor([0.0, 1.0, 0.5]), hidden)
    assert torch.equal(mixed[0], hidden[0])
    torch.testing.assert_close(mixed[1], full[1], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(mixed[2], half[2], rtol=1e-6, atol=1e-6)


@torch.no_grad()
def test_forward_in_eval_mode_scores_the_candidates_like_score_all() -> None:
    torch.manual_seed(2)
    model = GRU4Rec(N_ITEMS, HIDDEN, dropout_embed=0.5, dropout_hidden=0.5)
    with torch.no_grad():
        model.item_bias.weight.uniform_(-0.5, 0.5)
    model.eval()  # dropout off
    items = torch.tensor([3, 0, 6])
    weights = torch.tensor([1.0, 0.25, 0.5])
    hidden = torch.randn(3, HIDDEN)
    candidates = torch.tensor([2, 5, 2, 0, 6])
    scores, state = model(items, weights, hidden, candidates)
    assert scores.shape == (3, 5)
    expected_state = model.step(items, weights, hidden)
    torch.testing.assert_close(state, expected_state, rtol=1e-6, atol=1e-6)
    all_scores = model.score_all(state)
    assert all_scores.shape == (3, N_ITEMS)
    torch.testing.assert_close(scores, all_scores[:, candidates], rtol=1e-5, atol=1e-6)
    # score_all is h . Wy[i] + By[i]
    by_hand = torch.tensor(
        [
            [
                sum(state[b, k].item() * model.item_embedding.weight[i, k].item() for k in range(4))
                + model.item_bias.weight[i, 0].item()
                for i in range(N_ITEMS)
            ]
            for b in range(3)
        ]
    )
    torch.testing.assert_close(all_scores, by_hand, rtol=1e-5, atol=1e-5)


def test_forward_in_train_mode_applies_dropout() -> None:
    torch.manual_seed(3)
    model = GRU4Rec(N_ITEMS, HIDDEN, dropout_embed=0.0, dropout_hidden=0.5).train()
    hidden = torch.randn(8, HIDDEN)
    items = torch.arange(8) % N_ITEMS
    _, state = model(items, torch.ones(8), hidden, torch.tensor([0, 1]))
    dropped = state == 0
    assert dropped.any()
    expected = model.step(items, torch.ones(8), hidden).detach()
    # kept units are scaled by 1 / (1 - p)
    torch.testing.assert_close(state[~dropped], 2 * expected[~dropped], rtol=1e-5, atol=1e-6)


def test_grow_keeps_old_rows_and_adds_zero_bias_rows() -> None:
    model, _, _ = model_and_state()
    old_weight = model.item_embedding.weight.detach().clone()
    old_bias = model.item_bias.weight.detach().clone()
    old_cell = {k: v.clone() for k, v in model.cell.state_dict().items()}
    model.grow(N_ITEMS + 5)
    assert model.n_items == N_ITEMS + 5
    weight, bias = model.item_embedding.weight, model.item_bias.weight
    assert weight.shape == (N_ITEMS + 5, HIDDEN)
    assert bias.shape == (N_ITEMS + 5, 1)
    assert torch.equal(weight[:N_ITEMS], old_weight)
    assert torch.equal(bias[:N_ITEMS], old_bias)
    assert torch.equal(bias[N_ITEMS:], torch.zeros(5, 1))
    bound = math.sqrt(6.0 / (N_ITEMS + 5 + HIDDEN))
    new_rows = weight[N_ITEMS:]
    assert bool((new_rows.abs() <= bound).all())
    assert bool((new_rows != 0).all())
    for key, value in model.cell.state_dict().items():
        assert torch.equal(value, old_cell[key])
    # still trainable, still sparse
    assert weight.requires_grad
    assert bias.requires_grad
    assert model.item_embedding.sparse
    assert model.item_bias.sparse
    scores, _ = model(
        torch.tensor([N_ITEMS + 4]),
        torch.ones(1),
        torch.zeros(1, HIDDEN),
        torch.tensor([N_ITEMS + 4, 0]),
    )
    (grad,) = torch.autograd.grad(scores.sum(), weight)
    assert grad.is_sparse
    assert set(grad.coalesce().indices()[0].tolist()) == {0, N_ITEMS + 4}
    assert len(list(model.parameters())) == 6


def test_grow_to_the_same_size_changes_nothing() -> None:
    model, _, _ = model_and_state()
    embedding = model.item_embedding
    model.grow(N_ITEMS)
    assert model.item_embedding is embedding
    assert model.n_items == N_ITEMS


def test_reset_parameters_ranges() -> None:
    torch.manual_seed(4)
    n_items, hidden = 300, 32
    model = GRU4Rec(n_items, hidden)
    embedding_bound = math.sqrt(6.0 / (n_items + hidden))
    gate_bound = math.sqrt(6.0 / (hidden + hidden))
    weight = model.item_embedding.weight.detach()
    assert weight.abs().max().item() <= embedding_bound
    # uniform over the whole range: the extremes come close to the bound
    assert weight.abs().max().item() > 0.95 * embedding_bound
    for matrix in (model.cell.weight_ih, model.cell.weight_hh):
        assert matrix.shape == (3 * hidden, hidden)
        for gate in matrix.detach().chunk(3, dim=0):
            assert gate.abs().max().item() <= gate_bound
            assert gate.abs().max().item() > 0.95 * gate_bound
    for zero in (model.item_bias.weight, model.cell.bias_ih, model.cell.bias_hh):
        assert torch.equal(zero, torch.zeros_like(zero))
    # the embedding's range is narrower than the default N(0, 1) init of nn.Embedding
    assert embedding_bound < 0.2
