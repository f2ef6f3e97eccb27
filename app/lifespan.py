"""Startup and shutdown: load and verify the bundle, open the session store, yield the State.

The State is what every request sees as `request.state` (nothing lives on `app.state`).
A bundle that disagrees with its manifest stops the startup with BundleMismatch. Redis
being down at startup does not: /readyz says so, and requests answer 503 until it is back.
Applied swipes and new pages go to the event log (events/) when one is configured.
The catalogue log is replayed before the first request (catalogue/follower.py), so that
uploads serve and takedowns stay down across restarts. While the app runs, a BundleWatcher
swaps in new bundle versions (watcher.py) and a CatalogueFollower applies new log entries.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import TypedDict

import numpy as np
from fastapi import FastAPI

from app.bandit.bundle_arms import BundleArms
from app.bandit.new_item_stats import NewItemStats
from app.bandit.new_item_tier import NewItemTier
from app.batching.model_batches import ModelBatches
from app.catalogue.encoding import TitleEncoding
from app.catalogue.follower import CatalogueFollower
from app.catalogue.local_log import LocalCatalogueLog
from app.catalogue.log import CatalogueLog, RedisCatalogueLog
from app.catalogue.snapshot import Catalogue
from app.errors import StateStoreUnavailable
from app.events.local_file import LocalEventFile
from app.events.redis_streams import RedisEventAppender
from app.model import ServingModel
from app.redis_client import RedisClient, create_redis, is_cluster_url
from app.serving import ServingSlot
from app.session.cursor import CursorSigner
from app.session.memory_store import MemorySessionStore
from app.session.recent import RecentStates
from app.session.state import Caps
from app.session.store import RedisSessionStore, SessionStore
from app.settings import Settings
from app.telemetry import Telemetry
from app.watcher import BundleWatcher, load_bundle


class State(TypedDict):
    settings: Settings
    # read `.current` once per request: the bundle, its bandit arms and its catalogue
    serving: ServingSlot
    store: SessionStore
    catalogue: CatalogueFollower  # the catalogue log: written through it, followed by it
    tier: NewItemTier
    encoding: TitleEncoding
    signer: CursorSigner
    caps: Caps
    rng: np.random.Generator
    batches: ModelBatches  # the GRU steps and index searches of concurrent requests
    telemetry: Telemetry


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[State]]


def caps_of(settings: Settings) -> Caps:
    return Caps(
        seen=settings.max_seen,
        served=settings.max_served,
        pages=settings.max_pages,
        event_ids=settings.max_event_ids,
        pending_explore=settings.max_pending_explore,
    )


def lifespan_for(settings: Settings, rng: np.random.Generator | None = None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        model = load_bundle(settings, settings.bundle_dir)
        telemetry = Telemetry()
        client: RedisClient | None = None
        store: SessionStore
        log: CatalogueLog
        event_file: LocalEventFile | None = None
        if settings.redis_url is None:
            if settings.event_log_path is not None:
                event_file = LocalEventFile(settings.event_log_path, telemetry.event_log_failures)
            store = MemorySessionStore(settings.session_ttl_s, events=event_file)
            log = await asyncio.to_thread(LocalCatalogueLog.open, settings.catalogue_path)
        else:
            client = create_redis(
                settings.redis_url,
                settings.redis_socket_timeout_s,
                settings.redis_connect_timeout_s,
                settings.redis_max_connections,
            )
            store = RedisSessionStore(
                client,
                settings.key_prefix,
                settings.session_ttl_s,
                settings.update_retries,
                # a copy idle for less than the TTL cannot outlive its key (recent.py)
                RecentStates(
                    settings.recent_sessions,
                    min(settings.recent_idle_s, settings.session_ttl_s / 2),
                ),
                events=RedisEventAppender(
                    client,
                    settings.key_prefix,
                    settings.event_shards,
                    settings.event_max_len,
                    telemetry.event_log_failures,
                )
                if settings.event_shards
                else None,
                # one script cannot touch two Cluster slots: there the entry follows the write
                atomic_log=not is_cluster_url(settings.redis_url),
            )
            log = RedisCatalogueLog(client, settings.key_prefix)

        def arms_for(bundle: ServingModel) -> Awaitable[BundleArms]:
            """Arms are one bundle's clusters: each bundle counts under its own version."""
            return BundleArms.start(
                bundle.version, bundle.n_arms, client, settings.key_prefix, settings.bandit_sync_s
            )

        bundle_only = Catalogue.of_bundle(model.version, model.vocab, model.manifest.hidden_size)
        slot = await ServingSlot.open(model, bundle_only, arms_for)
        telemetry.serving(model.version)
        stats = NewItemStats(client, settings.key_prefix, settings.new_item_impressions)
        follower = CatalogueFollower(log, slot, stats, telemetry)
        with suppress(StateStoreUnavailable):  # not ready (503) until the follower reads it
            await follower.catch_up()
        with suppress(StateStoreUnavailable):
            await stats.sync()
        tasks = [asyncio.create_task(follower.run(settings.catalogue_poll_s))]
        if client is not None:
            tasks.append(asyncio.create_task(stats.run(settings.bandit_sync_s)))
        if settings.bundle_poll_s > 0:
            watcher = BundleWatcher(settings, slot, follower, telemetry)
            tasks.append(asyncio.create_task(watcher.run()))
        if event_file is not None:
            tasks.append(asyncio.create_task(event_file.run(settings.event_flush_s)))
        encoding = TitleEncoding()
        batches = ModelBatches(settings.max_batch, settings.faiss_omp_threads, telemetry)
        try:
            yield State(
                settings=settings,
                serving=slot,
                store=store,
                catalogue=follower,
                tier=NewItemTier(stats, settings.new_item_share, settings.new_item_impressions),
                encoding=encoding,
                signer=CursorSigner(settings.cursor_secret),
                caps=caps_of(settings),
                rng=rng or np.random.default_rng(),
                batches=batches,
                telemetry=telemetry,
            )
        finally:
            for task in tasks:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            encoding.close()
            batches.close()
            follower.close()
            with suppress(StateStoreUnavailable):
                await stats.sync()  # the last new-item counts, if Redis is there
            await slot.close()  # the last bandit counts, if Redis is there
            await log.close()
            await store.close()
            if event_file is not None:
                await event_file.close()  # after the tasks: the last entries are written
            if client is not None:
                await client.aclose()

    return lifespan
