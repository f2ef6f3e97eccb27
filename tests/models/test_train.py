"""Training end to end on a small, strongly sequential data set held in memory."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from models.config import TrainConfig
from models.evaluate import gru_predictions
from models.gru4rec import GRU4Rec
from models.metrics import RankingMetrics, conservative_ranks
from models.prepare import Prepared, build
from models.sessions import RawSession
from models.train import Checkpoint, TrainingDiverged, fit, new_model, resume_model
from models.vocab import ItemVocab

N_ITEMS = 20  # items i0 .. i19; every session walks the cycle i0 -> i1 -> ... -> i19 -> i0

CONFIG = TrainConfig(
    hidden_size=16,
    n_sample=8,
    batch_size=8,
    n_epochs=3,
    threads=1,
    dropout_embed=0.0,
    dropout_hidden=0.0,
)


def cycle_sessions(n: int, seed: int, prefix: str) -> list[RawSession]:
    """Sessions of 3 to 8 events along the cycle, each from a random start."""
    rng = np.random.default_rng(seed)
    sessions = []
    for k in range(n):
        start, length = int(rng.integers(N_ITEMS)), int(rng.integers(3, 9))
        items = tuple(f"i{(start + t) % N_ITEMS}" for t in range(length))
        sessions.append(RawSession(f"{prefix}{k}", items, (1.0,) * length))
    return sessions


def recall_at_3(model: GRU4Rec, data: Prepared) -> float:
    metrics = RankingMetrics(cutoffs=(3,))
    for scores, targets in gru_predictions(model, data.held_out.sessions):
        metrics.add(conservative_ranks(scores, targets))
    assert metrics.n_events == data.held_out.sessions.n_predictions
    return metrics.result()["recall@3"]


def model_of(checkpoint: Checkpoint) -> GRU4Rec:
    config = TrainConfig(**checkpoint["config"])
    model = GRU4Rec(len(checkpoint["item_ids"]), config.hidden_size)
    model.load_state_dict(checkpoint["model"])
    return model.eval()


@pytest.fixture(scope="module")
def data() -> Prepared:
    return build(cycle_sessions(150, 0, "t"), cycle_sessions(30, 1, "h"), {"name": "t"})


@pytest.fixture(scope="module")
def trained(data: Prepared) -> Checkpoint:
    return fit(CONFIG, data, progress=False)


def test_data_is_what_the_tests_expect(data: Prepared) -> None:
    assert len(data.vocab) == N_ITEMS
    assert data.train.n_sessions == 150
    assert data.held_out.dropped_events == 0
    assert data.held_out.sessions.n_predictions > 100


def test_fit_lowers_the_loss_and_learns_the_cycle(data: Prepared, trained: Checkpoint) -> None:
    losses = trained["epoch_losses"]
    assert len(losses) == CONFIG.n_epochs
    assert all(math.isfinite(x) for x in losses)
    assert all(later < earlier for earlier, later in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 0.5 * losses[0]
    assert trained["item_ids"] == list(data.vocab.item_ids)
    assert trained["config"] == CONFIG.to_dict()
    assert trained["dataset"]["name"] == "t"
    # an untrained model ranks the next item near chance (3 of 20); the trained one knows it
    untrained, _ = new_model(CONFIG, N_ITEMS)
    assert recall_at_3(untrained.eval(), data) < 0.5
    assert recall_at_3(model_of(trained), data) > 0.9


def test_the_trained_model_predicts_each_step_of_the_cycle(trained: Checkpoint) -> None:
    model = model_of(trained)
    rows = {item_id: row for row, item_id in enumerate(trained["item_ids"])}
    hits = 0
    with torch.no_grad():
        for k in range(N_ITEMS):
            # a two-event prefix i(k-1), i(k): the next item is i(k+1)
            hidden = torch.zeros(1, CONFIG.hidden_size)
            for item in (f"i{(k - 1) % N_ITEMS}", f"i{k}"):
                hidden = model.step(torch.tensor([rows[item]]), torch.ones(1), hidden)
            top3 = torch.topk(model.score_all(hidden)[0], 3).indices.tolist()
            hits += rows[f"i{(k + 1) % N_ITEMS}"] in top3
    assert hits >= 18


@pytest.mark.parametrize(
    "config",
    [
        dataclasses.replace(CONFIG, n_epochs=2, loss="bpr-max"),
        dataclasses.replace(CONFIG, n_epochs=2, loss="bpr"),
        dataclasses.replace(CONFIG, n_epochs=2, loss="cross-entropy", logq=1.0),
    ],
    ids=["bpr-max", "bpr", "cross-entropy-logq"],
)
def test_each_loss_trains_without_nan(data: Prepared, config: TrainConfig) -> None:
    checkpoint = fit(config, data, progress=False)
    losses = checkpoint["epoch_losses"]
    assert all(math.isfinite(x) for x in losses)
    assert losses[1] < losses[0]
    for name, tensor in checkpoint["model"].items():
        assert bool(torch.isfinite(tensor).all()), name
    assert recall_at_3(model_of(checkpoint), data) > 0.5


def resume_data(checkpoint: Checkpoint) -> Prepared:
    """New sessions that bring one unknown item, "fresh", after i3."""
    sessions = cycle_sessions(40, 2, "r")
    sessions += [RawSession(f"f{k}", ("i2", "i3", "fresh"), (1.0, 1.0, 1.0)) for k in range(5)]
    base = ItemVocab(tuple(checkpoint["item_ids"]))
    return build(sessions, cycle_sessions(5, 3, "rh"), {"name": "t2"}, base_vocab=base)


def test_resume_grows_the_vocabulary_with_old_rows_first(trained: Checkpoint) -> None:
    data2 = resume_data(trained)
    n_old = len(trained["item_ids"])
    assert list(data2.vocab.item_ids) == [*trained["item_ids"], "fresh"]
    model, optimizer = resume_model(CONFIG, trained, len(data2.vocab))
    assert model.n_items == n_old + 1
    old = trained["model"]
    weight, bias = model.item_embedding.weight, model.item_bias.weight
    assert torch.equal(weight[:n_old], old["item_embedding.weight"])
    assert torch.equal(bias[:n_old], old["item_bias.weight"])
    assert bias[n_old].item() == 0.0
    bound = math.sqrt(6.0 / (n_old + 1 + CONFIG.hidden_size))
    assert 0.0 < weight[n_old].abs().max().item() <= bound
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        assert torch.equal(getattr(model.cell, name), old[f"cell.{name}"])
    # optimiser state: old rows as saved, the new row from zero
    saved = trained["optimizer"]["state"]
    for index, p in enumerate(model.parameters()):
        for key in ("sum_sq", "velocity"):
            state = optimizer.state[p][key]
            assert state.shape == p.shape
            n = saved[index][key].shape[0]
            assert torch.equal(state[:n], saved[index][key])
            assert bool((state[n:] == 0).all())
    assert bool((saved[0]["sum_sq"] > 0).any())  # training did leave state behind
    assert optimizer.param_groups[0]["lr"] == CONFIG.learning_rate


def test_resume_trains_on_and_leaves_the_old_checkpoint_alone(trained: Checkpoint) -> None:
    data2 = resume_data(trained)
    before = {k: v.clone() for k, v in trained["model"].items()}
    config = dataclasses.replace(CONFIG, n_epochs=2)
    checkpoint = fit(config, data2, resume=trained, progress=False)
    assert checkpoint["item_ids"] == [*trained["item_ids"], "fresh"]
    assert all(math.isfinite(x) for x in checkpoint["epoch_losses"])
    for key, value in trained["model"].items():
        assert torch.equal(value, before[key]), key
    # training moved the model, and it still knows the cycle
    assert not torch.equal(
        checkpoint["model"]["cell.weight_hh"], trained["model"]["cell.weight_hh"]
    )
    assert recall_at_3(model_of(checkpoint), data2) > 0.9
    # the new item was learnt after i3 in its sessions: it is among the top 3 after i2, i3
    model = model_of(checkpoint)
    rows = data2.vocab.row_of
    with torch.no_grad():
        hidden = torch.zeros(1, CONFIG.hidden_size)
        for item in ("i2", "i3"):
            hidden = model.step(torch.tensor([rows[item]]), torch.ones(1), hidden)
        top3 = torch.topk(model.score_all(hidden)[0], 3).indices.tolist()
    assert rows["fresh"] in top3


def test_huge_learning_rate_diverges(data: Prepared) -> None:
    # Adagrad's first step moves each weight by about lr: 1e30 overflows float32 products
    config = dataclasses.replace(CONFIG, loss="bpr", learning_rate=1e30, n_epochs=1)
    with pytest.raises(TrainingDiverged, match=r"epoch 1: loss is (nan|inf)"):
        fit(config, data, progress=False)


def test_resume_with_momentum_turned_off(data: Prepared) -> None:
    """A checkpoint trained with momentum resumes under a config without it."""
    with_momentum = TrainConfig(
        hidden_size=8, n_sample=4, batch_size=4, n_epochs=1, threads=1, momentum=0.15
    )
    checkpoint = fit(with_momentum, data, progress=False)
    without = dataclasses.replace(with_momentum, momentum=0.0)
    model, optimizer = resume_model(without, checkpoint, len(data.vocab) + 1)
    assert model.n_items == len(data.vocab) + 1
    assert all("velocity" not in optimizer.state[p] for p in model.parameters())
