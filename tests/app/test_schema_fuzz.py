"""Schemathesis fuzzes every documented operation of the real app against its OpenAPI schema.

The contract is the schema FastAPI publishes: whatever a client sends, valid or not, the
service must answer with a documented status code and a body that matches it, and never 5xx.
Cases are generated deterministically (derandomize) and bounded, so CI sees the same run.

The schema is read at import from an app that never starts (its settings only bound a limit),
because schemathesis's fixture loader does not work with pytest >= 9.2 (it sets a removed
`Function._nodeid`); each case is then sent to a real app, over ASGI, whose lifespan
schemathesis starts on the first case and ends when the test does. Every case carries the
admin token, so that the catalogue's changes get past their guard to the validation and the
writes behind it (tests/app/test_items_routes.py covers the guard itself). What the fuzzing
found is pinned by plain regression tests at the end.
"""

import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from hypothesis import HealthCheck, settings
from schemathesis import Case, Config

from app.main import create_app
from app.settings import Settings
from loadtest.servers import free_port
from tests.conftest import TinyBundle

PUBLISHED = create_app(Settings()).openapi()  # the feed's count bounded by the settings' maximum
ADMIN_TOKEN = "fuzz-admin"
# the project's own: what `st run` reads (a cursor /feed did not sign is a documented 400)
CONFIG = Config.from_path(str(Path(__file__).resolve().parents[2] / "schemathesis.toml"))
schema = schemathesis.openapi.from_dict(PUBLISHED, config=CONFIG)


@pytest.fixture(params=["memory", "redis"])
def app(request: pytest.FixtureRequest, tiny_bundle: TinyBundle) -> FastAPI:
    redis_url: str | None = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
    app_settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=redis_url,
        cursor_secret="test",
        admin_token=ADMIN_TOKEN,
    )
    return create_app(app_settings, rng=np.random.default_rng(7))


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    # One app serves every case of a test, as one process serves every client: sessions
    # accumulate across cases on purpose. Generation speed is no verdict on a loaded CI box.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_response_is_documented_and_never_5xx(
    case: Case[Any], app: FastAPI, tiny_bundle: TinyBundle
) -> None:
    name_known_items(case, tiny_bundle.data.vocab.item_ids)
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def name_known_items(case: Case[Any], item_ids: Sequence[str]) -> None:
    """Generated item ids are all unknown (404): half the swipes and item lookups name a
    catalogue item instead, so that the GRU step, the store, the bandit and the catalogue see
    generated requests too. Only a valid id is replaced, so a case made invalid through its
    item_id stays invalid."""
    for container in (case.body, case.path_parameters):
        if isinstance(container, dict):
            known = _known(container.get("item_id"), item_ids)
            if known is not None:
                container["item_id"] = known


def _known(generated: object, item_ids: Sequence[str]) -> str | None:
    if isinstance(generated, str) and 1 <= len(generated) <= 128:
        digest = zlib.crc32(generated.encode("utf-8", "surrogatepass"))
        if digest % 2 == 0:
            return item_ids[digest // 2 % len(item_ids)]
    return None


# --- regressions of what the fuzzing found, as plain tests ----------------------------------


@pytest.fixture
def client(tiny_bundle: TinyBundle) -> Iterator[TestClient]:
    app_settings = Settings(bundle_dir=tiny_bundle.path, cursor_secret="test")
    with TestClient(create_app(app_settings, rng=np.random.default_rng(7))) as test_client:
        yield test_client


def assert_documented(response: Response, method: str, path: str) -> None:
    """The status is one the schema lists for the operation, and the response matches it."""
    assert str(response.status_code) in PUBLISHED["paths"][path][method.lower()]["responses"]
    schema[path][method].validate_response(response)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"session_id": "s", "item_id": "\xff\xfe"}',  # not UTF-8
        b"[" * 5000 + b"]" * 5000,  # nested deeper than the JSON parser recurses
    ],
)
def test_unparsable_body_is_422_not_an_undocumented_400(client: TestClient, raw: bytes) -> None:
    response = client.post("/swipe", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert_documented(response, "POST", "/swipe")


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/feed"), ("PATCH", "/healthz"), ("PUT", "/swipe")]
)
def test_a_wrong_method_is_405_not_415(client: TestClient, method: str, path: str) -> None:
    """BodyLimits used to answer 415 to any PUT/PATCH without a JSON body, route or not."""
    response = client.request(method, path, content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    response = client.post("/nowhere", content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 404


def test_whole_number_floats_are_accepted_as_integers(
    client: TestClient, tiny_bundle: TinyBundle
) -> None:
    """JSON Schema's integer includes 12000.0, and some encoders write whole numbers so."""
    body = {"session_id": "s", "item_id": tiny_bundle.data.vocab.item_ids[0]}
    raw = json.dumps({**body, "watch_ms": 12000.0, "duration_ms": 15000.0, "replays": 0.0})
    response = client.post("/swipe", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["weight"] == pytest.approx(0.8)
    for field, value in [("watch_ms", 12000.5), ("replays", "1"), ("liked", 1.0)]:
        response = client.post("/swipe", json={**body, field: value})
        assert response.status_code == 422, (field, value)


def test_metrics_is_documented_as_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert_documented(response, "GET", "/metrics")


def test_readyz_503_is_documented(tiny_bundle: TinyBundle) -> None:
    closed_port = free_port()  # nothing listens there
    app_settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        redis_socket_timeout_s=0.1,
        redis_connect_timeout_s=0.1,
    )
    with TestClient(create_app(app_settings)) as test_client:
        response = test_client.get("/readyz")
    assert response.status_code == 503
    assert_documented(response, "GET", "/readyz")
