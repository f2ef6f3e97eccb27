"""GRU4Rec with NARM attention: with its gate shut it is the plain GRU, it keeps the last K
states, trains for real, and is refused by the export (no bundle serves it)."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from models.attention import AttentiveGRU4Rec
from models.export import export
from models.gru4rec import GRU4Rec
from models.prepare import Prepared, build
from models.train import fit, model_from_checkpoint
from tests.models.test_train import CONFIG, cycle_sessions, recall_at_3

ATTENTIVE = dataclasses.replace(CONFIG, attention_window=4, n_epochs=4)


@pytest.fixture(scope="module")
def data() -> Prepared:
    return build(cycle_sessions(150, 0, "t"), cycle_sessions(30, 1, "h"), {"name": "t"})


def steps(model: GRU4Rec, items: list[int]) -> torch.Tensor:
    state = torch.zeros(1, model.state_size)
    for item in items:
        state = model.step(torch.tensor([item]), torch.tensor([0.7]), state)
    return state


@torch.no_grad()
def test_with_its_gate_shut_it_scores_as_the_plain_gru_it_extends() -> None:
    torch.manual_seed(0)
    plain = GRU4Rec(30, 8).eval()
    attentive = AttentiveGRU4Rec(30, 8, window=3).eval()
    attentive.load_state_dict(plain.state_dict(), strict=False)
    items = [4, 9, 2, 17, 5]
    plain_state, attentive_state = steps(plain, items), steps(attentive, items)
    assert attentive_state.shape == (1, 3 * 8)
    torch.testing.assert_close(attentive.last_hidden(attentive_state), plain_state)
    opened = attentive.score_all(attentive_state)
    assert not torch.allclose(opened, plain.score_all(plain_state))  # 2% of the context
    attentive.gate.bias.fill_(-1e4)  # sigmoid: exactly 0
    torch.testing.assert_close(attentive.score_all(attentive_state), plain.score_all(plain_state))


@torch.no_grad()
def test_the_state_keeps_the_last_k_hidden_states_newest_last() -> None:
    torch.manual_seed(1)
    model = AttentiveGRU4Rec(30, 8, window=3).eval()
    memory = [steps(model, [4, 9, 2, 17, 5][:n]) for n in range(1, 6)]
    last = memory[-1].view(3, 8)
    for slot, earlier in zip((0, 1, 2), memory[2:], strict=True):
        torch.testing.assert_close(last[slot], model.last_hidden(earlier)[0])
    two = memory[1].view(3, 8)
    assert not two[0].any()  # a two-event session leaves one slot empty
    assert two[1].any()


@torch.no_grad()
def test_empty_slots_add_nothing_to_the_query() -> None:
    torch.manual_seed(2)
    model = AttentiveGRU4Rec(30, 8, window=4).eval()
    torch.nn.init.normal_(model.gate.weight)  # attention now counts in the query
    short = steps(model, [3, 8])
    wider = AttentiveGRU4Rec(30, 8, window=6).eval()
    wider.load_state_dict(model.state_dict())
    torch.testing.assert_close(wider.query(steps(wider, [3, 8])), model.query(short))


def test_it_trains_for_real_and_comes_back_from_its_checkpoint(data: Prepared) -> None:
    checkpoint = fit(ATTENTIVE, data, progress=False)
    model = model_from_checkpoint(checkpoint)
    assert isinstance(model, AttentiveGRU4Rec)
    assert recall_at_3(model, data) > 0.9  # the cycle is learnt
    gate = checkpoint["model"]["gate.weight"]
    assert gate.abs().max() > 0  # attention took part: the gate learnt from zero
    assert checkpoint["epoch_losses"][-1] < checkpoint["epoch_losses"][0]


def test_the_export_refuses_an_attention_model(data: Prepared, tmp_path: Path) -> None:
    checkpoint = fit(dataclasses.replace(ATTENTIVE, n_epochs=1), data, progress=False)
    with pytest.raises(ValueError, match="attention"):
        export(checkpoint, tmp_path / "bundle", metrics={}, version="v")
    assert not (tmp_path / "bundle").exists()
    assert np.isfinite(checkpoint["epoch_losses"]).all()
