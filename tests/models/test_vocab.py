from pathlib import Path

import numpy as np
import pytest

from models.readers import read_sequences
from models.sessions import RawSession
from models.split import split_by_user_mod
from models.vocab import ItemVocab, encode

MICROLENS = Path(__file__).parents[2] / ".." / "shared" / "data" / "microlens50k"


def raw(session_id: str, items: str, weights: tuple[float, ...] | None = None) -> RawSession:
    item_ids = tuple(items.split())
    return RawSession(session_id, item_ids, weights or (1.0,) * len(item_ids))


def test_vocab_rows_follow_first_appearance() -> None:
    vocab = ItemVocab.from_sessions([raw("s1", "c a c"), raw("s2", "b a d")])
    assert vocab.item_ids == ("c", "a", "b", "d")
    assert len(vocab) == 4
    assert vocab.row("b") == 2
    assert vocab.rows(["d", "c", "c"]) == [3, 0, 0]
    assert vocab == ItemVocab(("c", "a", "b", "d"))


def test_vocab_rejects_unknown_and_duplicate_ids() -> None:
    vocab = ItemVocab(("x", "y"))
    with pytest.raises(KeyError):
        vocab.row("z")
    with pytest.raises(KeyError):
        vocab.rows(["x", "z"])
    with pytest.raises(ValueError, match="unique"):
        ItemVocab(("x", "y", "x"))


def test_encode_drops_unknown_items_and_keeps_weights_aligned() -> None:
    vocab = ItemVocab(("a", "b", "c"))
    sessions = [
        raw("s1", "a z b", (0.5, 0.25, 1.0)),
        raw("s2", "y x", (1.0, 1.0)),  # nothing known: dropped as a session too
        raw("s3", "c c q a", (0.05, 0.75, 0.5, 0.125)),
    ]
    encoded = encode(vocab, sessions)
    assert encoded.session_ids == ("s1", "s3")
    assert encoded.sessions.items.tolist() == [0, 1, 2, 2, 0]
    assert encoded.sessions.offsets.tolist() == [0, 2, 5]
    expected_weights = np.array([0.5, 1.0, 0.05, 0.75, 0.125], dtype=np.float32)
    np.testing.assert_array_equal(encoded.sessions.weights, expected_weights)
    assert (encoded.dropped_events, encoded.dropped_sessions) == (4, 1)


def test_encode_min_length_counts_after_dropping() -> None:
    vocab = ItemVocab(("a", "b"))
    sessions = [raw("s1", "a b a"), raw("s2", "a z"), raw("s3", "b a")]
    encoded = encode(vocab, sessions, min_length=2)
    # s2 has two events but only one known item left
    assert encoded.session_ids == ("s1", "s3")
    assert encoded.sessions.items.tolist() == [0, 1, 0, 1, 0]
    assert (encoded.dropped_events, encoded.dropped_sessions) == (1, 1)
    with pytest.raises(ValueError, match="min_length"):
        encode(vocab, sessions, min_length=0)


def test_encode_nothing() -> None:
    encoded = encode(ItemVocab(("a",)), [])
    assert encoded.sessions.n_sessions == 0
    assert encoded.sessions.offsets.tolist() == [0]
    assert (encoded.dropped_events, encoded.dropped_sessions) == (0, 0)


def test_encode_microlens_test_users_with_the_training_vocab() -> None:
    path = MICROLENS / "MicroLens-50k_pairs.tsv.gz"
    if not path.exists():
        pytest.skip(f"MicroLens-50k not found at {path.resolve()}")
    split = split_by_user_mod(read_sequences(path))
    vocab = ItemVocab.from_sessions(split.train)
    train = encode(vocab, split.train)
    assert train.sessions.n_sessions == 40_000
    assert train.dropped_events == train.dropped_sessions == 0
    test = encode(vocab, split.test)
    n_test_events = sum(len(s.item_ids) for s in split.test)
    assert test.sessions.n_events + test.dropped_events == n_test_events
    # every kept event decodes back to its external id
    first = next(s for s in split.test if s.session_id == test.session_ids[0])
    decoded = [vocab.item_ids[r] for r in test.sessions.session(0)]
    assert decoded == [i for i in first.item_ids if i in vocab.row_of]
    assert np.all(test.sessions.items < len(vocab))
