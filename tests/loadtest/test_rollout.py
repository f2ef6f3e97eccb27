"""The soak's model swap: a second version that the service's own verification accepts,
published by re-pointing the served link."""

from pathlib import Path

from app.bundle import read_manifest, verify_bundle
from loadtest.rollout import publish_version, serve_through_link
from tests.conftest import TinyBundle


def test_a_published_version_verifies_and_the_link_points_at_it(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    link = serve_through_link(tiny_bundle.path, tmp_path)
    assert verify_bundle(link).version == "tiny-test"

    old, new = publish_version(link, "-swapped")

    assert (old, new) == ("tiny-test", "tiny-test-swapped")
    assert link.is_symlink()
    assert verify_bundle(link).version == new  # the other files' hashes still hold
    assert read_manifest(tiny_bundle.path).version == old  # the served bundle is untouched
    assert sorted(p.name for p in link.resolve().iterdir()) == sorted(
        p.name for p in tiny_bundle.path.iterdir()
    )
