"""The background loop that syncs in-memory counts with Redis every interval.

Shared by the bandit's arms (rewards.py) and the new-item tier's counts (new_item_stats.py):
requests count in memory and never wait for Redis; an outage is logged once, not every
interval, and the return of Redis once.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.cancellation import raise_if_cancelled
from app.errors import StateStoreUnavailable


async def sync_every(
    sync: Callable[[], Awaitable[None]], interval_s: float, what: str, logger: logging.Logger
) -> None:
    """Call `sync` every `interval_s` until cancelled; `what` names it in the log lines."""
    failing = False
    while True:
        await asyncio.sleep(interval_s)
        try:
            await sync()
            raise_if_cancelled()  # absorbed by redis-py? (cancellation.py)
        except StateStoreUnavailable as error:
            raise_if_cancelled()
            if not failing:
                logger.warning(
                    "%s sync failed, counting locally until Redis is back: %s", what, error
                )
            failing = True
        else:
            if failing:
                logger.info("%s sync works again", what)
            failing = False
