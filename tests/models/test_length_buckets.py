"""The model's metrics by session length: the buckets split the held-out targets exactly, and
recombine, weighted by their targets, into the overall figures."""

import numpy as np
import pytest

from models.evaluate import LENGTH_BUCKETS, gru_predictions, measure, measure_by_length
from models.train import model_from_checkpoint
from tests.conftest import TinyBundle


def test_the_length_buckets_partition_the_targets(tiny_bundle: TinyBundle) -> None:
    model = model_from_checkpoint(tiny_bundle.checkpoint)
    sessions = tiny_bundle.data.held_out.sessions
    overall = measure(gru_predictions(model, sessions))
    by_length = measure_by_length(model, sessions)
    lengths = sessions.lengths
    for name, (low, high) in zip(["2-5", "6-10", "11-20", ">20"], LENGTH_BUCKETS, strict=True):
        inside = (lengths >= low) & (lengths <= (high or lengths.max()))
        expected = int((lengths[inside] - 1).sum())  # a session of n events: n - 1 targets
        assert by_length.get(name, {"events": 0.0})["events"] == expected
    events = np.array([row["events"] for row in by_length.values()])
    assert events.sum() == overall["events"]
    for metric in ("recall@20", "mrr@20"):
        recombined = sum(row[metric] * row["events"] for row in by_length.values())
        assert recombined / events.sum() == pytest.approx(overall[metric], abs=1e-9)
