"""The published OpenAPI schema states the limits that are settings, not constants.

`/feed`'s `count` is refused above `feed_max_count`; a route's `Query(le=...)` is fixed at
import, before the settings are read, so the bound is written into the schema when it is
first built. A client generating requests from the schema (schemathesis, a typed SDK) then
never sends a schema-valid request the service refuses.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.settings import Settings


def declare_setting_limits(app: FastAPI, settings: Settings) -> None:
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = build()  # FastAPI keeps it in app.openapi_schema: patched once
            for parameter in schema["paths"]["/feed"]["get"]["parameters"]:
                if parameter["name"] == "count":
                    for option in parameter["schema"]["anyOf"]:
                        if option.get("type") == "integer":
                            option["maximum"] = settings.feed_max_count
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
