"""The published OpenAPI schema against the service that publishes it: the limits that are
settings are in it, and schemathesis' own command line finds no gap between the two."""

import re
import subprocess
import sys
from pathlib import Path

from app.main import create_app
from app.settings import Settings
from loadtest.servers import uvicorn_server
from tests.conftest import TinyBundle

ROOT = Path(__file__).resolve().parents[2]


def count_schema(settings: Settings) -> dict[str, object]:
    parameters = create_app(settings).openapi()["paths"]["/feed"]["get"]["parameters"]
    (count,) = (parameter for parameter in parameters if parameter["name"] == "count")
    (integer,) = (option for option in count["schema"]["anyOf"] if option["type"] == "integer")
    return dict(integer)


def test_the_feed_count_is_bounded_by_the_settings_maximum() -> None:
    assert count_schema(Settings()) == {"type": "integer", "minimum": 1, "maximum": 100}
    assert count_schema(Settings(feed_max_count=40, feed_default_count=10))["maximum"] == 40


def test_schemathesis_command_line_finds_nothing(tiny_bundle: TinyBundle, tmp_path: Path) -> None:
    """The issue's command as a user runs it, on the service's default settings (embedded
    store, no tokens), from the repository root so that it reads schemathesis.toml. Seeded,
    so that CI sees one run; every other setting is schemathesis' default."""
    env = {
        "NEXTSWIPE_BUNDLE": str(tiny_bundle.path),
        "NEXTSWIPE_CATALOGUE_PATH": str(tmp_path / "catalogue.log"),
        "NEXTSWIPE_EVENT_LOG_PATH": str(tmp_path / "events.log"),
    }
    with uvicorn_server("app.main:create_app", 1, env, "/readyz", tmp_path / "serve.log") as served:
        st = Path(sys.executable).parent / "st"
        command = [str(st), "run", f"{served.url}/openapi.json", "--checks", "all", "--seed", "1"]
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(r"\b(\d+) generated, \1 passed\b", run.stdout), run.stdout[-3000:]  # all
    assert re.search(r"Tested: +8\b", run.stdout), run.stdout[:3000]  # every operation
