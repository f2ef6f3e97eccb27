"""The row rule and the catalogue built from the ledger, with the tiny bundle's real encoder
and projection: every replica applying the same log to the same bundle must agree."""

import dataclasses

import numpy as np
import pytest

from app.catalogue.builder import build_catalogue
from app.catalogue.entry import Upload, encode_entry
from app.catalogue.ledger import Ledger
from app.gru.vocab import ItemVocab
from app.model import ServingModel, load_model
from app.session.migrate import MISSING, map_rows
from tests.app.uploads import catalogue_of, takedown, upload
from tests.conftest import TinyBundle


@pytest.fixture(scope="module")
def model(tiny_bundle: TinyBundle) -> ServingModel:
    return load_model(tiny_bundle.path)


def test_uploads_take_the_rows_after_the_bundle_in_log_order(model: ServingModel) -> None:
    n = len(model.vocab)
    known = model.vocab.item_id(7)
    entries = [
        upload(model, "b", "drill a shelf"),
        upload(model, known, "a bundle item uploaded again"),
        upload(model, "a", "a cat on a piano"),
        upload(model, "b", "drill a shelf, part two"),  # an update keeps the row
    ]
    ledger, catalogue = catalogue_of(model, entries)
    assert (catalogue.row("b"), catalogue.row("a"), catalogue.row(known)) == (n, n + 1, 7)
    assert len(catalogue) == n + 2
    assert catalogue.ids_of(np.array([n + 1, 3, n], dtype=np.int64)) == [
        "a",
        model.vocab.item_id(3),
        "b",
    ]
    assert (catalogue.source(7), catalogue.source(n)) == ("bundle", "upload")
    assert catalogue.position == ledger.position == 4
    expected = model.projection.project(model.encoder.encode(["drill a shelf, part two"]))
    np.testing.assert_allclose(catalogue.uploads.vectors[0], expected[0], rtol=1e-6)


def test_takedowns_keep_rows_and_an_upload_restores(model: ServingModel) -> None:
    n = len(model.vocab)
    entries = [upload(model, "a", "t"), takedown("a"), takedown(model.vocab.item_id(3))]
    _, catalogue = catalogue_of(model, entries)
    assert catalogue.removed == frozenset({n, 3})
    assert (catalogue.row("a"), catalogue.servable_row("a")) == (n, None)
    assert catalogue.servable_row(model.vocab.item_id(3)) is None
    assert catalogue.active_uploads.tolist() == []
    assert catalogue.sizes() == {
        ("bundle", "active"): n - 1,
        ("bundle", "removed"): 1,
        ("upload", "active"): 0,
        ("upload", "removed"): 1,
    }
    _, restored = catalogue_of(model, [*entries, upload(model, "a", "t")])
    assert restored.removed == frozenset({3})
    assert (restored.servable_row("a"), restored.active_uploads.tolist()) == (n, [n])


def test_applying_the_log_piece_by_piece_builds_what_one_go_builds(model: ServingModel) -> None:
    entries = [upload(model, f"u{i % 7}", f"title {i} #tag{i % 3}") for i in range(20)]
    entries += [takedown("u2"), upload(model, model.vocab.item_id(0), "known"), takedown("u5")]
    ledger, catalogue = Ledger(), None
    for start in range(0, len(entries), 4):
        changed = ledger.apply(entries[start : start + 4])
        catalogue = build_catalogue(ledger, model, catalogue, changed)
    _, whole = catalogue_of(model, entries)
    assert catalogue is not None
    assert catalogue.upload_ids == whole.upload_ids
    assert catalogue.removed == whole.removed
    assert catalogue.ordinals.tolist() == whole.ordinals.tolist()
    np.testing.assert_array_equal(catalogue.uploads.vectors, whole.uploads.vectors)
    np.testing.assert_array_equal(catalogue.active_uploads, whole.active_uploads)


def test_another_bundle_gets_its_own_rows_and_sessions_map_by_id(model: ServingModel) -> None:
    """The next bundle holds one upload ("b") as a trained item: the others move up a row."""
    entries = [upload(model, item_id, f"{item_id} title") for item_id in ("a", "b", "c")]
    entries.append(takedown("c"))
    _, old = catalogue_of(model, entries)
    ids = [*model.vocab.ids_of(np.arange(len(model.vocab), dtype=np.int64)), "b"]
    grown = dataclasses.replace(
        model,
        manifest=dataclasses.replace(model.manifest, version="v2", n_items=len(ids)),
        vocab=ItemVocab(ids),
    )
    _, new = catalogue_of(grown, entries)
    n = len(model.vocab)
    assert (new.row("b"), new.source(n)) == (n, "bundle")
    assert (new.row("a"), new.row("c")) == (n + 1, n + 2)
    assert new.removed == frozenset({n + 2})
    rows = map_rows(old, new)
    assert rows[:n].tolist() == list(range(n))
    assert rows[n:].tolist() == [n + 1, n, n + 2]  # a, b, c of the old catalogue
    assert map_rows(new, model.vocab)[n:].tolist() == [MISSING] * 3


def test_content_of_another_encoder_is_encoded_again_from_its_title(model: ServingModel) -> None:
    title = "encoded elsewhere #other"
    foreign = Upload("x", title, np.ones(5, dtype=np.float32), "another-encoder", 0)
    ledger, catalogue = catalogue_of(model, [encode_entry(foreign)])
    expected = model.projection.project(model.encoder.encode([title]))[0]
    np.testing.assert_allclose(catalogue.uploads.vectors[0], expected, rtol=1e-6)
    assert ledger.uploads["x"].encoder == model.encoder.name


def test_a_corrupt_entry_takes_its_position_and_nothing_else(model: ServingModel) -> None:
    ledger, catalogue = catalogue_of(model, [b"\x01garbage", upload(model, "a", "t")])
    assert (ledger.position, catalogue.position, catalogue.upload_ids) == (2, 2, ("a",))


def test_an_upload_is_stepped_on_by_its_projected_embedding(model: ServingModel) -> None:
    _, catalogue = catalogue_of(model, [upload(model, "a", "a cat on a piano")])
    row = catalogue.row("a")
    assert row is not None
    hidden = catalogue.step_on(model.step, None, 3, 1.0)  # a bundle row: the row step
    np.testing.assert_array_equal(hidden, model.step.step(None, 3, 1.0))
    stepped = catalogue.step_on(model.step, hidden, row, 0.5)
    by_vector = model.step.step_vector(hidden, catalogue.uploads.vectors[0, :-1], 0.5)
    np.testing.assert_array_equal(stepped, by_vector)


def test_statuses_of_an_upload_request(model: ServingModel) -> None:
    known = model.vocab.item_id(0)
    ledger = Ledger()
    ledger.apply([upload(model, "a", "one"), upload(model, "gone", "g"), takedown("gone")])
    ledger.apply([takedown(known)])
    items = [
        ("a", "one"),  # the same title
        ("a", "two"),  # then another one, in the same request
        ("new", "n"),
        ("new", "n"),  # repeated: as the log will apply it
        ("gone", "g"),  # taken down: uploading it again restores it
        (known, "k"),  # a bundle item, taken down: known, logged to restore it
        (known, "k"),
    ]
    assert ledger.classify(items, model.vocab) == [
        ("unchanged", False),
        ("updated", True),
        ("added", True),
        ("unchanged", False),
        ("added", True),
        ("known", True),
        ("known", False),
    ]
    assert ledger.knows("gone")
    assert ledger.knows(known)
    assert not ledger.knows("never")
