"""create_app(): assembles settings, lifespan, middleware, error handlers and routers.

Served by `uvicorn app.main:create_app --factory`; settings are read once, here, from the
environment unless a test passes its own.
"""

import numpy as np
from fastapi import FastAPI

from app.body_limits import BodyLimits
from app.error_handlers import install_error_handlers
from app.lifespan import lifespan_for
from app.logs import RequestLog, configure_logging
from app.openapi_limits import declare_setting_limits
from app.overload import LoadShedding
from app.routes import feed, health, items, swipe
from app.settings import Settings


def create_app(settings: Settings | None = None, rng: np.random.Generator | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="nextswipe",
        summary="Session-based next-swipe recommendations: POST /swipe, GET /feed, /items.",
        version="0.1.0",
        lifespan=lifespan_for(settings, rng),
        debug=False,
    )
    install_error_handlers(app)
    app.add_middleware(
        BodyLimits,
        max_body_bytes=settings.max_body_bytes,
        larger={"/items": settings.items_max_body_bytes},
    )
    app.add_middleware(LoadShedding, max_in_flight=settings.max_in_flight)
    app.add_middleware(RequestLog)  # added last, so outermost: it also times BodyLimits' answers
    app.include_router(swipe.router)
    app.include_router(feed.router)
    app.include_router(items.router)
    app.include_router(health.router)
    declare_setting_limits(app, settings)
    return app
