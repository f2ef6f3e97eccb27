"""The service's logs: JSON lines with the expected keys, and no client data in them."""

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.logs import JsonFormatter, configure_logging
from app.main import create_app
from app.settings import Settings
from loadtest.servers import free_port
from tests.conftest import TinyBundle

BASE_KEYS = {"ts", "level", "logger", "message"}
REQUEST_KEYS = BASE_KEYS | {"method", "path", "status", "duration_ms"}
SECRET_ITEM = "item-7f3c-do-not-log"  # in a body: must never reach the logs
SECRET_SESSION = "session-9a1e-do-not-log"  # in bodies and query strings


@pytest.fixture(autouse=True)
def default_level_afterwards() -> Iterator[None]:
    """Logging is process-wide: leave the level as a default app sets it."""
    yield
    configure_logging("info")


@pytest.fixture
def settings(tiny_bundle: TinyBundle) -> Settings:
    return Settings(bundle_dir=tiny_bundle.path, cursor_secret="test")


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of the output is one JSON object with the base keys."""
    records = [json.loads(line) for line in text.splitlines()]
    for record in records:
        assert isinstance(record, dict)
        assert BASE_KEYS <= set(record), record
    return records


def exercise(client: TestClient, item_id: str) -> None:
    """A swipe whose body and a feed whose query carry the secrets."""
    body = {"session_id": SECRET_SESSION, "item_id": SECRET_ITEM, "event_id": SECRET_ITEM}
    assert client.post("/swipe", json=body).status_code == 404  # an unknown item
    body = {"session_id": SECRET_SESSION, "item_id": item_id, "event_id": SECRET_ITEM}
    assert client.post("/swipe", json=body).status_code == 200
    params = {"session_id": SECRET_SESSION, "cursor": SECRET_ITEM}
    assert client.get("/feed", params=params).status_code == 400


def test_debug_logs_one_json_line_per_request_without_query_or_body(
    settings: Settings, tiny_bundle: TinyBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(replace(settings, log_level="debug"))) as client:
        capsys.readouterr()
        exercise(client, tiny_bundle.data.vocab.item_ids[0])
    output = capsys.readouterr().err
    requests = [r for r in json_lines(output) if r["logger"] == "nextswipe.requests"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("POST", "/swipe", 404),
        ("POST", "/swipe", 200),
        ("GET", "/feed", 400),
    ]
    for record in requests:
        assert REQUEST_KEYS <= set(record)
        assert record["level"] == "debug"
        assert isinstance(record["duration_ms"], float)
        assert record["duration_ms"] >= 0
    assert SECRET_ITEM not in output
    assert SECRET_SESSION not in output


def test_info_logs_nothing_per_request(
    settings: Settings, tiny_bundle: TinyBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(settings)) as client:
        capsys.readouterr()
        exercise(client, tiny_bundle.data.vocab.item_ids[0])
    output = capsys.readouterr().err
    assert not [r for r in json_lines(output) if r["logger"] == "nextswipe.requests"]
    assert SECRET_ITEM not in output


def test_a_5xx_is_a_warning_at_info(
    tiny_bundle: TinyBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    closed_port = free_port()  # nothing listens there
    settings = Settings(
        bundle_dir=tiny_bundle.path,
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        redis_socket_timeout_s=0.1,
        redis_connect_timeout_s=0.1,
    )
    with TestClient(create_app(settings)) as client:
        capsys.readouterr()
        body = {
            "session_id": SECRET_SESSION,
            "item_id": tiny_bundle.data.vocab.item_ids[0],
            "event_id": SECRET_ITEM,
        }
        assert client.post("/swipe", json=body).status_code == 503
    output = capsys.readouterr().err
    requests = [r for r in json_lines(output) if r["logger"] == "nextswipe.requests"]
    assert [(r["level"], r["path"], r["status"]) for r in requests] == [("warning", "/swipe", 503)]
    assert SECRET_ITEM not in output


def test_a_crash_is_logged_with_its_traceback_and_never_sent(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def crash(*_: object, **__: object) -> None:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr("app.routes.swipe.record_swipe", crash)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        capsys.readouterr()
        response = client.post("/swipe", json={"session_id": "s", "item_id": SECRET_ITEM})
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "boom" not in response.text
    assert "Traceback" not in response.text
    records = json_lines(capsys.readouterr().err)
    crashes = [r for r in records if r["logger"] == "nextswipe"]
    assert len(crashes) == 1
    assert crashes[0]["level"] == "error"
    assert crashes[0]["message"] == "unhandled error on POST /swipe"
    assert "Traceback" in crashes[0]["exception"]
    assert "RuntimeError: boom: internal detail" in crashes[0]["exception"]
    requests = [r for r in records if r["logger"] == "nextswipe.requests"]
    assert [(r["level"], r["status"]) for r in requests] == [("warning", 500)]


def test_a_forged_line_in_a_path_stays_inside_one_record(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(replace(settings, log_level="debug"))) as client:
        capsys.readouterr()
        forged = '/x%0A{"level":"error","message":"forged"}'
        assert client.get(forged).status_code == 404
    records = json_lines(capsys.readouterr().err)
    assert [r["path"] for r in records] == ['/x\n{"level":"error","message":"forged"}']


def test_configuring_again_keeps_one_handler_and_takes_the_new_level() -> None:
    configure_logging("debug")
    configure_logging("warning")
    for name in ("app", "nextswipe", "uvicorn"):
        assert len(logging.getLogger(name).handlers) == 1
    assert logging.getLogger("app").level == logging.WARNING
    assert logging.getLogger("nextswipe.requests").getEffectiveLevel() == logging.WARNING
    with pytest.raises(ValueError, match="verbose"):
        configure_logging("verbose")


def test_formatter_keeps_extra_fields_and_one_line_per_record() -> None:
    record = logging.makeLogRecord(
        {
            "name": "app.x",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "two\nlines %s",
            "args": ("\ud800",),  # a lone surrogate, as JSON clients may send
            "session_count": 3,
            "ts": "cannot replace the timestamp",
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "two\nlines \ud800"
    assert entry["session_count"] == 3
    assert entry["ts"] != "cannot replace the timestamp"
    assert (entry["level"], entry["logger"]) == ("info", "app.x")
