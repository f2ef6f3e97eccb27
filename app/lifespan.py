"""Startup and shutdown: load and verify the bundle, open the session store, yield the State.

The State is what every request sees as `request.state` (nothing lives on `app.state`).
A bundle that disagrees with its manifest stops the startup with BundleMismatch. Redis
being down at startup does not: /readyz says so, and requests answer 503 until it is back.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import TypedDict

import numpy as np
import redis.asyncio as aioredis
from fastapi import FastAPI

from app.bandit.rewards import ArmStats, MemoryArmStats, RedisArmStats
from app.errors import StateStoreUnavailable
from app.model import ServingModel, load_model
from app.session.cursor import CursorSigner
from app.session.memory_store import MemorySessionStore
from app.session.recent import RecentStates
from app.session.state import Caps
from app.session.store import RedisSessionStore, SessionStore, create_redis
from app.settings import Settings
from app.telemetry import Telemetry


class State(TypedDict):
    settings: Settings
    model: ServingModel
    store: SessionStore
    arms: ArmStats
    signer: CursorSigner
    caps: Caps
    rng: np.random.Generator
    telemetry: Telemetry
    redis: aioredis.Redis | None


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
        model = load_model(
            settings.bundle_dir,
            settings.ort_intra_op_threads,
            settings.faiss_omp_threads,
            settings.explore_popularity_alpha,
        )
        hidden_size = model.manifest.hidden_size
        client: aioredis.Redis | None = None
        store: SessionStore
        arms: ArmStats
        sync: asyncio.Task[None] | None = None  # the bandit counts' exchange with Redis
        if settings.redis_url is None:
            store = MemorySessionStore(settings.session_ttl_s)
            arms = MemoryArmStats(model.n_arms)
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
                hidden_size,
                settings.update_retries,
                # a copy idle for less than the TTL cannot outlive its key (recent.py)
                RecentStates(
                    settings.recent_sessions,
                    min(settings.recent_idle_s, settings.session_ttl_s / 2),
                ),
            )
            # arms are the clusters of one bundle: another bundle's statistics mean nothing
            shared_arms = RedisArmStats(
                client, f"{settings.key_prefix}:{model.version}", model.n_arms
            )
            with suppress(StateStoreUnavailable):  # Redis may be down: the loop retries
                await shared_arms.sync()
            sync = asyncio.create_task(shared_arms.run(settings.bandit_sync_s))
            arms = shared_arms
        try:
            yield State(
                settings=settings,
                model=model,
                store=store,
                arms=arms,
                signer=CursorSigner(settings.cursor_secret),
                caps=caps_of(settings),
                rng=rng or np.random.default_rng(),
                telemetry=Telemetry(),
                redis=client,
            )
        finally:
            if sync is not None:
                sync.cancel()
                with suppress(asyncio.CancelledError):
                    await sync
                with suppress(StateStoreUnavailable):  # the last counts, if Redis is there
                    await shared_arms.sync()
            await store.close()
            if client is not None:
                await client.aclose()

    return lifespan
