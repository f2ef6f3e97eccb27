"""MicroBatcher: the calls that arrive while one batch runs become the next batch.

Triton's dynamic batcher, without its delay: an idle batcher starts a batch on the next turn
of the event loop (so requests read in the same turn join it) and never waits for one to fill;
while a batch runs in the batcher's own thread (ONNX Runtime and FAISS release the GIL), the
loop goes on reading requests, and those queue for the next batch. At saturation one model
call serves many requests.

A batch of one runs on the loop itself: nothing else was waiting, and the hop to a thread and
back cost more than batching could save it (one MicroLens GRU step, pinned to one core: 480 us
in place, 750 us through the thread). The requests that arrive meanwhile wait in their
sockets, and are read together as the next, larger batch, which goes to the thread.
"""

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Q = TypeVar("Q")
A = TypeVar("A")

# queries -> their answers in the same order; runs in the batcher's thread
RunBatch = Callable[[Sequence[Q]], Sequence[A]]


class MicroBatcher(Generic[Q, A]):
    """One batch in flight at a time, at most `max_batch` queries in it. Not thread-safe:
    call it from the event loop only."""

    __slots__ = ("_executor", "_max_batch", "_queue", "_run", "_running", "_sizes")

    def __init__(
        self,
        run: RunBatch[Q, A],
        max_batch: int,
        name: str,
        initializer: Callable[[], object] | None = None,
        sizes: Callable[[int], None] = lambda _: None,
    ) -> None:
        """`initializer` runs once in the batcher's thread, before its first batch; `sizes`
        is told each batch's size (metrics)."""
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._run = run
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(1, name, initializer)
        self._queue: list[tuple[Q, asyncio.Future[A]]] = []
        self._running = False
        self._sizes = sizes

    async def __call__(self, query: Q) -> A:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[A] = loop.create_future()
        self._queue.append((query, answer))
        if not self._running:
            self._running = True
            loop.call_soon(self._start, loop)
        return await answer

    def close(self) -> None:
        """Let a running batch finish and stop the thread; later calls are refused."""
        self._executor.shutdown(wait=True)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._queue[: self._max_batch]
        del self._queue[: self._max_batch]
        batch = [(query, answer) for query, answer in batch if not answer.done()]  # cancelled
        if not batch:
            self._next(loop)
            return
        self._sizes(len(batch))
        queries = [query for query, _ in batch]
        if len(queries) == 1:
            try:
                answers = self._run(queries)
            except Exception as exc:  # the caller's to handle, as from the thread
                self._conclude(loop, batch, exc)
            else:
                self._conclude(loop, batch, answers)
            return
        try:
            running = loop.run_in_executor(self._executor, self._run, queries)
        except RuntimeError as exc:  # closed
            self._conclude(loop, batch, exc)
            return
        running.add_done_callback(lambda done: self._finish(loop, batch, done))

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[Q, asyncio.Future[A]]],
        done: asyncio.Future[Sequence[A]],
    ) -> None:
        if done.cancelled():
            self._conclude(loop, batch, asyncio.CancelledError())
        else:
            error = done.exception()
            self._conclude(loop, batch, error if error is not None else done.result())

    def _conclude(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[Q, asyncio.Future[A]]],
        outcome: BaseException | Sequence[A],
    ) -> None:
        """Every caller still waiting gets its answer, or the batch's error; then the next
        batch starts, if anything queued meanwhile."""
        for position, (_, answer) in enumerate(batch):
            if answer.done():
                continue
            if isinstance(outcome, BaseException):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome[position])
        self._next(loop)

    def _next(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._queue:
            self._start(loop)
        else:
            self._running = False
