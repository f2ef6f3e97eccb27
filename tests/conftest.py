"""Shared fixtures: a tiny bundle, trained and exported once per test session, and a real
redis-server on a free loopback port for the whole run, flushed per test.

The bundle is real: the tiny config trains GRU4Rec on a generated log in seconds, exports
the ONNX step and the FAISS index, so ONNX Runtime and FAISS run for real in the tests.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from loadtest.servers import redis_server
from models import config as config_module
from models.command_line import DataSource
from models.export import export
from models.prepare import Prepared, prepare
from models.train import Checkpoint, fit

ROOT = Path(__file__).resolve().parents[1]
TINY_CONFIG = ROOT / "models" / "configs" / "tiny.toml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--redis-url", default=None, help="use this Redis instead of starting one")


@pytest.fixture(scope="session")
def redis_server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    given: str | None = request.config.getoption("--redis-url")
    if given:
        yield given
        return
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The server's URL, with every key of the previous test gone."""
    client = redis.Redis.from_url(redis_server_url)
    client.flushall()
    client.close()
    return redis_server_url


@dataclass(frozen=True, slots=True)
class TinyBundle:
    path: Path
    checkpoint: Checkpoint
    data: Prepared


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> TinyBundle:
    config = config_module.load(TINY_CONFIG)
    data = prepare(config, DataSource(), "final")
    checkpoint = fit(config, data, progress=False)
    path = tmp_path_factory.mktemp("bundles") / "tiny"
    export(checkpoint, path, metrics={"note": "tiny"}, version="tiny-test", n_clusters=8)
    return TinyBundle(path, checkpoint, data)
