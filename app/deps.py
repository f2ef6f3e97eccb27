"""Annotated dependencies: the routes' collaborators, read from the lifespan state.

They are async so that FastAPI runs them on the event loop instead of a thread hop.
"""

import hmac
from typing import Annotated

import numpy as np
from fastapi import Depends, Request

from app.bandit.rewards import ArmStats
from app.errors import Unauthorized
from app.model import ServingModel
from app.session.cursor import CursorSigner
from app.session.state import Caps
from app.session.store import SessionStore
from app.settings import Settings
from app.telemetry import Telemetry


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


async def get_model(request: Request) -> ServingModel:
    model: ServingModel = request.state.model
    return model


async def get_store(request: Request) -> SessionStore:
    store: SessionStore = request.state.store
    return store


async def get_arms(request: Request) -> ArmStats:
    arms: ArmStats = request.state.arms
    return arms


async def get_signer(request: Request) -> CursorSigner:
    signer: CursorSigner = request.state.signer
    return signer


async def get_caps(request: Request) -> Caps:
    caps: Caps = request.state.caps
    return caps


async def get_rng(request: Request) -> np.random.Generator:
    rng: np.random.Generator = request.state.rng
    return rng


async def get_telemetry(request: Request) -> Telemetry:
    telemetry: Telemetry = request.state.telemetry
    return telemetry


async def require_token(request: Request) -> None:
    """With a configured token, every request must carry it (compared in constant time)."""
    expected: str | None = request.state.settings.auth_token
    if expected is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[ServingModel, Depends(get_model)]
StoreDep = Annotated[SessionStore, Depends(get_store)]
ArmsDep = Annotated[ArmStats, Depends(get_arms)]
SignerDep = Annotated[CursorSigner, Depends(get_signer)]
CapsDep = Annotated[Caps, Depends(get_caps)]
RngDep = Annotated[np.random.Generator, Depends(get_rng)]
TelemetryDep = Annotated[Telemetry, Depends(get_telemetry)]
