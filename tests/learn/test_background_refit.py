"""A refit in its own process gives what the same refit gives inline, hands it over once,
and stops on request."""

import time

import numpy as np

from learn.background_refit import BackgroundRefit, Finished
from learn.content import RefitJob, fit_job
from models.projection import Feedforward


def ridge_job(n: int = 200, seed: int = 0) -> RefitJob:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return RefitJob(
        "ridge",
        {"relative_alpha": 0.1},
        0.0,
        rng.normal(size=(n, 16)).astype(f32),
        rng.normal(size=(n, 9)).astype(f32),
        np.zeros((0, 8), f32),
        np.zeros(0, np.int64),
        seed,
        {"fitted_items": n},
    )


def wait_finished(refits: BackgroundRefit, timeout_s: float = 60.0) -> Finished:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        finished = refits.finished()
        if finished is not None:
            return finished
        time.sleep(0.05)
    raise AssertionError("no refit finished")


def test_a_background_refit_equals_the_inline_one() -> None:
    refits = BackgroundRefit()
    job = ridge_job()
    refits.start(job, at=12.5)
    assert refits.busy
    refits.start(ridge_job(seed=1), at=13.0)  # one at a time: this one is not taken
    finished = wait_finished(refits)
    assert finished.at == 12.5
    assert finished.job.seed == 0
    assert not refits.busy
    assert refits.finished() is None  # handed over once
    inline = fit_job(job)
    assert isinstance(finished.mapping, Feedforward)
    assert isinstance(inline, Feedforward)
    for got, want in zip(finished.mapping.layers, inline.layers, strict=True):
        np.testing.assert_allclose(got.weight, want.weight, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.bias, want.bias, rtol=1e-5, atol=1e-6)


def test_stop_ends_a_refit_in_progress() -> None:
    refits = BackgroundRefit()
    refits.start(ridge_job(n=4000), at=0.0)
    refits.stop()
    assert not refits.busy
    assert refits.finished() is None
    refits.start(ridge_job(), at=1.0)  # the slot is free again
    assert wait_finished(refits).at == 1.0
