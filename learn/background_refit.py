"""The content projection's refit in a process of its own, so that no publish waits for it.

A refit (an MLP's) takes about half a minute on one core. Done inline, the round that refits
publishes that much later, and so is every swipe it learned: the day-2 replay's longest
swipe-to-served lag (121 s, against 80-95 s for every other round) was that round. Here the
refit runs in a child process at the lowest CPU priority, on the idle time between rounds,
while each publish takes the newest refit that has finished. A refit is a cache, never a
checkpoint (learn/refit_cache.py): a child lost with its learner is simply started again.
"""

import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import torch

from learn.content import RefitJob, fit_job
from models.projection import Feedforward, Neighbours

LOWEST_PRIORITY = 19


def _fit(job: RefitJob, results: Connection) -> None:
    """The child: below the learner itself, on one thread, as the learner trains."""
    os.nice(max(LOWEST_PRIORITY - os.nice(0), 0))
    torch.set_num_threads(1)
    results.send(fit_job(job))
    results.close()


@dataclass(frozen=True, slots=True)
class Finished:
    job: RefitJob
    at: float  # wall clock when the job's inputs were taken: the refit's age counts from it
    mapping: Feedforward | Neighbours


@dataclass(slots=True)
class _Running:
    job: RefitJob
    at: float
    process: BaseProcess
    results: Connection


class BackgroundRefit:
    """At most one refit at a time; `finished` hands each result over once."""

    def __init__(self) -> None:
        self._running: _Running | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None

    def start(self, job: RefitJob, at: float) -> None:
        """Start `job`, unless one is running (its result is as recent as the learner needs)."""
        if self._running is not None:
            return
        context = multiprocessing.get_context("spawn")  # never fork a process holding torch
        results, sending = context.Pipe(duplex=False)
        process = context.Process(target=_fit, args=(job, sending), daemon=True, name="refit")
        process.start()
        sending.close()  # the child holds the only sending end: its death reads as EOF here
        self._running = _Running(job, at, process, results)

    def finished(self) -> Finished | None:
        """The refit that has finished since the last call, else None (never blocks). A child
        that died without a result frees the slot, and the next refit starts again."""
        running = self._running
        if running is None or not running.results.poll():
            return None
        try:
            mapping: Feedforward | Neighbours | None = running.results.recv()
        except EOFError:
            mapping = None
        self._reap()
        return None if mapping is None else Finished(running.job, running.at, mapping)

    def stop(self) -> None:
        """Stop a refit in progress (the learner is leaving)."""
        if self._running is not None:
            self._running.process.terminate()
            self._reap()

    def _reap(self) -> None:
        assert self._running is not None
        self._running.process.join()
        self._running.results.close()
        self._running = None
