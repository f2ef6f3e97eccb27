"""Settings come from NEXTSWIPE_* variables once, with checked values."""

from pathlib import Path

import pytest
from starlette.config import Config

from app.settings import DEFAULT_BUNDLE, Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env(Config(environ={}, env_prefix="NEXTSWIPE_"))
    assert settings == Settings()
    assert (settings.bundle_dir, settings.redis_url, settings.session_ttl_s) == (
        DEFAULT_BUNDLE,
        None,
        1800,
    )


def test_environment_overrides() -> None:
    environ = {
        "NEXTSWIPE_BUNDLE": "/srv/bundle",
        "NEXTSWIPE_REDIS_URL": "redis://127.0.0.1:6380/1",
        "NEXTSWIPE_SESSION_TTL_S": "60",
        "NEXTSWIPE_EXPLORE_SHARE": "0.3",
        "NEXTSWIPE_AUTH_TOKEN": "t0ken",
        "NEXTSWIPE_SKIP_MS": "2000",
        "NEXTSWIPE_WEIGHT_LIKE": "0.5",
        "NEXTSWIPE_BUNDLE_POLL_S": "0",
        "NEXTSWIPE_SWAP_REPLAY_ITEMS": "5",
        "NEXTSWIPE_ADMIN_TOKEN": "adm1n",
        "NEXTSWIPE_CATALOGUE_POLL_S": "0.2",
        "NEXTSWIPE_CATALOGUE_PATH": "/var/lib/nextswipe/catalogue.log",
        "NEXTSWIPE_NEW_ITEM_SHARE": "0.25",
        "NEXTSWIPE_NEW_ITEM_IMPRESSIONS": "50",
        "NEXTSWIPE_ITEMS_MAX_BODY_BYTES": "8388608",
    }
    settings = Settings.from_env(Config(environ=environ, env_prefix="NEXTSWIPE_"))
    assert settings.bundle_dir == Path("/srv/bundle")
    assert settings.redis_url == "redis://127.0.0.1:6380/1"
    assert (settings.session_ttl_s, settings.explore_share) == (60, 0.3)
    assert settings.auth_token == "t0ken"
    assert (settings.engagement.skip_ms, settings.engagement.like) == (2000, 0.5)
    assert (settings.bundle_poll_s, settings.swap_replay_items) == (0.0, 5)
    assert (settings.admin_token, settings.catalogue_poll_s) == ("adm1n", 0.2)
    assert settings.catalogue_path == Path("/var/lib/nextswipe/catalogue.log")
    assert (settings.new_item_share, settings.new_item_impressions) == (0.25, 50)
    assert settings.items_max_body_bytes == 8 * 1024 * 1024


def test_empty_admin_token_and_catalogue_path_mean_none() -> None:
    environ = {"NEXTSWIPE_ADMIN_TOKEN": "", "NEXTSWIPE_CATALOGUE_PATH": ""}
    settings = Settings.from_env(Config(environ=environ, env_prefix="NEXTSWIPE_"))
    assert (settings.admin_token, settings.catalogue_path) == (None, None)


def test_empty_redis_url_means_embedded_store() -> None:
    config = Config(environ={"NEXTSWIPE_REDIS_URL": ""}, env_prefix="NEXTSWIPE_")
    assert Settings.from_env(config).redis_url is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NEXTSWIPE_SESSION_TTL_S": "0"}, "session_ttl_s"),
        ({"NEXTSWIPE_EXPLORE_SHARE": "1.5"}, "explore_share"),
        ({"NEXTSWIPE_MAX_SEEN": "0"}, "max_seen"),
        ({"NEXTSWIPE_BUNDLE_POLL_S": "-1"}, "bundle_poll_s"),
        ({"NEXTSWIPE_SWAP_REPLAY_ITEMS": "-1"}, "swap_replay_items"),
        ({"NEXTSWIPE_SESSION_TTL_S": "soon"}, "SESSION_TTL_S"),
        ({"NEXTSWIPE_ADMIN_TOKEN": "same", "NEXTSWIPE_AUTH_TOKEN": "same"}, "must differ"),
        ({"NEXTSWIPE_CATALOGUE_POLL_S": "0"}, "catalogue_poll_s"),
        ({"NEXTSWIPE_NEW_ITEM_SHARE": "-0.1"}, "new_item_share"),
        ({"NEXTSWIPE_NEW_ITEM_IMPRESSIONS": "0"}, "new_item_impressions"),
        ({"NEXTSWIPE_ITEMS_MAX_BODY_BYTES": "1000"}, "items_max_body_bytes"),
    ],
)
def test_bad_values_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(Config(environ=environ, env_prefix="NEXTSWIPE_"))
