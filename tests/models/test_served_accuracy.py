"""The served path's accuracy (the bundle's ONNX step and FAISS index, as the service runs
them) agrees with the trained model's own evaluation, and a comparison of two runs sees
every list that moved."""

import numpy as np
import pytest

from models.evaluate import gru_predictions, measure
from models.served_accuracy import compare, in_bundle_rows, served_top_k
from models.train import model_from_checkpoint
from tests.conftest import TinyBundle


def test_the_served_path_scores_what_the_model_scores(tiny_bundle: TinyBundle) -> None:
    data = tiny_bundle.data
    sessions = in_bundle_rows(data.held_out.sessions, data.vocab.item_ids, tiny_bundle.path)
    top, targets, run = served_top_k(tiny_bundle.path, sessions)
    offline = measure(gru_predictions(model_from_checkpoint(tiny_bundle.checkpoint), sessions))
    assert run.events == offline["events"] == len(top) == len(targets)
    # the index ranks by the same scores; ties (rare in float32) are the only difference
    assert run.recall == pytest.approx(offline["recall@20"], abs=2e-3)
    assert run.mrr == pytest.approx(offline["mrr@20"], abs=2e-3)
    assert run.recall > 0.05  # a trained model, not an empty list


def test_compare_counts_lists_that_changed_order_or_members() -> None:
    top = np.arange(40, dtype=np.int64).reshape(2, 20)
    swapped = top.copy()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]
    assert compare(top, top) == {"same_order": 1.0, "same_set": 1.0}
    assert compare(top, swapped) == {"same_order": 0.5, "same_set": 1.0}
    other = top.copy()
    other[1, 19] = 99
    assert compare(top, other) == {"same_order": 0.5, "same_set": 0.5}
    with pytest.raises(ValueError, match="different steps"):
        compare(top, top[:1])
