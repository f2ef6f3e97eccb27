"""CatalogueFollower: applies the catalogue log, in order, and serves each new catalogue.

One per app instance. Every `catalogue_poll_s` it reads the entries after the ledger's
position, applies them and builds the next immutable Catalogue in a worker thread, then
publishes it to the ServingSlot by one assignment; requests never wait for it. It is the only
writer of the ledger and of `current.catalogue`, under one lock that hot swaps take too, so a
catalogue is never published for a bundle that a swap has just replaced. At startup it replays
the whole log before the app serves; after a swap the new bundle gets the whole ledger
re-applied (rows mapped across by item id, session/migrate.py).
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import replace

from app.bandit.new_item_stats import NewItemStats
from app.cancellation import raise_if_cancelled
from app.catalogue.builder import build_catalogue
from app.catalogue.ledger import Ledger
from app.catalogue.log import CatalogueLog
from app.catalogue.niced import niced_thread
from app.catalogue.snapshot import Catalogue
from app.errors import StateStoreUnavailable
from app.model import ServingModel
from app.serving import ServingSlot
from app.session.migrate import map_rows
from app.telemetry import Telemetry

logger = logging.getLogger(__name__)
READ_ENTRIES = 1000  # per read: a long log is replayed in replies of a bounded size


class CatalogueFollower:
    __slots__ = (
        "_builder",
        "_ledger",
        "_lock",
        "_log",
        "_rebuild",
        "_slot",
        "_stats",
        "_telemetry",
    )

    def __init__(
        self, log: CatalogueLog, slot: ServingSlot, stats: NewItemStats, telemetry: Telemetry
    ) -> None:
        self._log = log
        self._slot = slot
        self._stats = stats
        self._telemetry = telemetry
        self._ledger = Ledger()
        self._lock = asyncio.Lock()
        self._rebuild = False  # the last build failed: the next one starts from the ledger
        self._builder = niced_thread("catalogue")

    async def run(self, poll_s: float) -> None:
        """Follow the log until cancelled; an outage is logged once, a bug every time."""
        failing = False
        while True:
            await asyncio.sleep(poll_s)
            try:
                await self.catch_up()
                raise_if_cancelled()  # absorbed by redis-py? (cancellation.py)
            except StateStoreUnavailable as error:
                raise_if_cancelled()
                if not failing:
                    logger.warning("catalogue log unreachable, serving what it said: %s", error)
                failing = True
            except Exception:  # a bug here must not end following for good
                raise_if_cancelled()
                logger.exception("applying the catalogue log failed")
            else:
                if failing:
                    logger.info("catalogue log reachable again")
                failing = False

    async def catch_up(self) -> int:
        """Apply whatever the log holds beyond the ledger; returns the position applied."""
        async with self._lock:
            await self._apply_new()
            return self._ledger.position

    @asynccontextmanager
    async def settled(self) -> AsyncIterator[Ledger]:
        """The ledger, caught up with the log and held still while the block reads it."""
        async with self._lock:
            await self._apply_new()
            yield self._ledger

    async def write(self, entries: Sequence[bytes]) -> int:
        """Append to the log and apply it here at once (read-your-writes on this replica);
        returns the log position after the write. Other replicas apply it at their next poll."""
        position = await self._log.append(entries)
        with suppress(StateStoreUnavailable):  # written: the next poll applies it
            await self.catch_up()
        return position

    def close(self) -> None:
        """Stop the build thread; a build still running is dropped (the app is stopping)."""
        self._builder.shutdown(wait=False, cancel_futures=True)

    async def swap(self, model: ServingModel) -> None:
        """Serve `model`, with the ledger re-applied to its catalogue: uploads it holds now
        use its trained rows, the others are projected by its projection, takedowns stay."""
        async with self._lock:
            replaced = self._slot.current.catalogue
            catalogue = await asyncio.to_thread(build_catalogue, self._ledger, model, None, ())
            rows = await asyncio.to_thread(map_rows, replaced, catalogue)
            await self._slot.swap(model, catalogue, rows)
            self._rebuild = False
            self._published(catalogue)

    async def _apply_new(self) -> None:
        while True:
            length, entries = await self._log.read(self._ledger.position, READ_ENTRIES)
            if length < self._ledger.position:
                logger.error(
                    "the catalogue log holds %d entries, fewer than the %d applied: it was "
                    "reset (a Redis without persistence restarted?); applying it from the start",
                    length,
                    self._ledger.position,
                )
                self._ledger, self._rebuild = Ledger(), True
                continue
            current = self._slot.current.catalogue
            if entries or self._rebuild:
                # a build that fails leaves the ledger ahead of the catalogue: the next one
                # then builds from the whole ledger
                full, self._rebuild = self._rebuild, True
                # at nice 19: projecting a batch of uploads must not take a request's CPU
                catalogue = await asyncio.get_running_loop().run_in_executor(
                    self._builder, self._build, entries, full
                )
                self._rebuild = False
                self._published(catalogue)
            elif current.position != self._ledger.position:  # the first read of an empty log
                self._published(replace(current, position=self._ledger.position))
            if len(entries) < READ_ENTRIES:
                return

    def _build(self, entries: list[bytes], full: bool) -> Catalogue:
        """In a worker thread: the ledger after `entries`, and its catalogue."""
        changed = self._ledger.apply(entries)
        previous = None if full else self._slot.current.catalogue
        return build_catalogue(self._ledger, self._slot.current.model, previous, changed)

    def _published(self, catalogue: Catalogue) -> None:
        self._stats.track(self._ledger.order)
        if catalogue is not self._slot.current.catalogue:
            self._slot.publish(catalogue)
        self._telemetry.catalogue_applied(
            catalogue.sizes(), self._ledger.position, self._ledger.last_logged_ms
        )
