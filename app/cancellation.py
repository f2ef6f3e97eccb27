"""Cancellation that a library swallowed, restored in the service's background loops.

The background loops (catalogue follower, bandit and new-item syncs, bundle watcher) are
cancelled at shutdown, usually while a Redis command is in flight. redis-py (8.1) sometimes
absorbs that cancellation: the command returns normally, or fails as an outage, and the task
goes on as if nothing happened, so the shutdown that awaits it waits forever (seen in the
tests about one run in five, swallowed inside a pipeline's execute). Each loop checks at
every round, and before it reports an error, whether its task has been asked to stop.
"""

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError when the running task has been asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
