"""Carrying a session over to a swapped-in bundle: rows mapped by item id, the GRU replayed.

The new model is the tiny bundle with its catalogue in another order, so that every row
changes; the old catalogue also holds items the new one lacks.
"""

import dataclasses

import numpy as np
import pytest

from app.bandit.rewards import MemoryArmStats
from app.catalogue.snapshot import Catalogue
from app.gru.vocab import ItemVocab
from app.model import ServingModel, load_model
from app.serving import Retired, Serving
from app.session.codec import encode
from app.session.migrate import MISSING, map_rows, migrate
from app.session.state import Page, SessionState
from tests.app.uploads import catalogue_of, upload
from tests.conftest import TinyBundle

OLD, NEW = "v1", "v2"


@pytest.fixture(scope="module")
def new_model(tiny_bundle: TinyBundle) -> ServingModel:
    model = load_model(tiny_bundle.path)
    ids = list(reversed(model.vocab.ids_of(np.arange(len(model.vocab), dtype=np.int64))))
    manifest = dataclasses.replace(model.manifest, version=NEW)
    return dataclasses.replace(model, manifest=manifest, vocab=ItemVocab(ids))


@pytest.fixture(scope="module")
def old_vocab(new_model: ServingModel) -> ItemVocab:
    """Rows 0..29: a gone item at every third row, the new catalogue's items between."""
    ids = new_model.vocab.ids_of(np.arange(20, dtype=np.int64))
    return ItemVocab([f"gone-{row}" if row % 3 == 0 else ids.pop() for row in range(30)])


def bundle_catalogue(model: ServingModel) -> Catalogue:
    return Catalogue.of_bundle(model.version, model.vocab, model.manifest.hidden_size)


@pytest.fixture(scope="module")
def serving(new_model: ServingModel, old_vocab: ItemVocab) -> Serving:
    retired = Retired(OLD, map_rows(old_vocab, new_model.vocab))
    arms = MemoryArmStats(new_model.n_arms)
    return Serving(new_model, arms, bundle_catalogue(new_model), retired)


def old_state() -> SessionState:
    """A session of the old bundle: rows of its catalogue, a hidden state of its own size."""
    return SessionState(
        model_version=OLD,
        hidden=np.ones(3, dtype=np.float32),
        seq=30,
        seen=list(range(30)),
        weights=[(row % 10 + 1) / 10 for row in range(30)],
        served=[29, 28, 27, 3, 4],
        events={"e1": 29, "e2": 30},
        pages={4: Page(4, (27, 28), (0.5, 0.25), (False, True), OLD)},
        next_page=5,
        pending_explore={28: 1},
    )


def new_row(old_vocab: ItemVocab, new_model: ServingModel, old_row: int) -> int | None:
    return new_model.vocab.row(old_vocab.item_id(old_row))


def test_map_rows_follows_item_ids() -> None:
    rows = map_rows(ItemVocab(["a", "b", "c", "d"]), ItemVocab(["c", "x", "a"]))
    assert rows.tolist() == [2, MISSING, 0, MISSING]


def test_rows_are_mapped_unknown_items_dropped_pages_and_slots_dropped(
    serving: Serving, old_vocab: ItemVocab, new_model: ServingModel
) -> None:
    state = old_state()
    assert migrate(state, serving, replay_items=20) == "carried"
    kept = [row for row in range(30) if row % 3 != 0]
    assert state.seen == [new_row(old_vocab, new_model, row) for row in kept]
    assert state.weights == pytest.approx([(row % 10 + 1) / 10 for row in kept])
    assert state.served == [new_row(old_vocab, new_model, row) for row in (29, 28, 4)]
    assert (state.pages, state.pending_explore) == ({}, {})
    assert (state.seq, state.events, state.next_page) == (30, {"e1": 29, "e2": 30}, 5)
    assert state.model_version == NEW
    assert state.hidden is not None
    assert state.hidden.shape == (new_model.manifest.hidden_size,)


def test_hidden_is_the_new_gru_stepped_over_the_last_items(
    serving: Serving, new_model: ServingModel
) -> None:
    state = old_state()
    migrate(state, serving, replay_items=5)
    expected = None
    for row, weight in zip(state.seen[-5:], state.weights[-5:], strict=True):
        expected = new_model.step.step(expected, row, weight)
    assert expected is not None
    assert state.hidden is not None
    np.testing.assert_array_equal(state.hidden, expected)


def test_zero_replay_items_resets_the_hidden_state_only(serving: Serving) -> None:
    state = old_state()
    assert migrate(state, serving, replay_items=0) == "carried"
    assert state.hidden is None  # a cold start for the model, not for the session
    assert len(state.seen) == 20


def test_state_of_two_swaps_ago_starts_over_but_keeps_its_events(serving: Serving) -> None:
    state = old_state()
    state.model_version = "v0"
    assert migrate(state, serving, replay_items=20) == "reset"
    assert (state.hidden, state.seen, state.weights, state.served) == (None, [], [], [])
    assert (state.pages, state.pending_explore) == ({}, {})
    assert (state.seq, state.events, state.next_page) == (30, {"e1": 29, "e2": 30}, 5)
    assert state.model_version == NEW


def test_state_of_another_bundle_before_any_swap_starts_over(new_model: ServingModel) -> None:
    state = old_state()
    serving = Serving(new_model, MemoryArmStats(new_model.n_arms), bundle_catalogue(new_model))
    assert migrate(state, serving, 20) == "reset"
    assert state.seen == []


def test_state_of_the_serving_bundle_is_left_alone(serving: Serving) -> None:
    state = dataclasses.replace(old_state(), model_version=NEW)
    before = encode(state)
    assert migrate(state, serving, replay_items=20) is None
    assert encode(state) == before


def test_upload_rows_are_carried_over_and_stepped_on_by_their_embedding(
    tiny_bundle: TinyBundle, new_model: ServingModel
) -> None:
    """Rows of the old catalogue's uploads map by id; a row it did not have yet (another
    replica further on in the log served it) drops; the replay steps uploads by vector."""
    old_model = load_model(tiny_bundle.path)
    entries = [upload(old_model, "a", "a cat on a piano"), upload(old_model, "b", "a drill")]
    _, old = catalogue_of(old_model, entries)
    _, new = catalogue_of(new_model, entries[::-1])  # another log order: other upload rows
    n = len(old_model.vocab)
    assert (old.row("a"), new.row("a"), new.row("b")) == (n, n + 1, n)
    serving = Serving(
        new_model, MemoryArmStats(new_model.n_arms), new, Retired(OLD, map_rows(old, new))
    )
    state = SessionState(
        model_version=OLD, seen=[n, 5, n + 7], weights=[1.0, 0.5, 1.0], served=[n + 1]
    )
    assert migrate(state, serving, replay_items=20) == "carried"
    assert state.seen == [n + 1, new_model.vocab.row(old_model.vocab.item_id(5))]
    assert state.served == [n]
    hidden = new.step_on(new_model.step, None, n + 1, 1.0)
    expected = new.step_on(new_model.step, hidden, state.seen[1], 0.5)
    assert state.hidden is not None
    np.testing.assert_array_equal(state.hidden, expected)
