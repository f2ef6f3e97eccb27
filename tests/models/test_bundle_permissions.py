"""A bundle built by one user serves for another: the container runs as uid 10001."""

import json
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.export import export
from tests.conftest import TinyBundle

SERVICE_UID = 10001  # the Dockerfile's USER


@pytest.fixture(scope="module")
def strict_umask_bundle(tiny_bundle: TinyBundle) -> Iterator[Path]:
    """Exported under umask 077, in a directory any user may enter (pytest's tmp is 0700)."""
    parent = Path(tempfile.mkdtemp(prefix="nextswipe-perm-"))
    parent.chmod(0o755)
    old = os.umask(0o077)
    try:
        export(
            tiny_bundle.checkpoint,
            parent / "bundle",
            metrics={},
            version="perm-test",
            n_clusters=8,
            train_sessions=tiny_bundle.data.train,
        )
    finally:
        os.umask(old)
    yield parent / "bundle"
    subprocess.run(["rm", "-rf", str(parent)], check=True)


def test_directories_are_0755_and_files_0644(strict_umask_bundle: Path) -> None:
    assert stat.S_IMODE(strict_umask_bundle.stat().st_mode) == 0o755
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in strict_umask_bundle.iterdir()}
    assert modes
    assert set(modes.values()) == {0o644}, modes


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another uid needs root")
def test_another_uid_reads_every_file_the_manifest_lists(strict_umask_bundle: Path) -> None:
    """What the service does first with a bundle, as the container's uid: hash every file.
    (sha256sum, not Python: this machine's interpreter lives in root's own home.)"""
    manifest = json.loads((strict_umask_bundle / "manifest.json").read_text())
    names = sorted(manifest["files"])
    done = subprocess.run(
        ["sha256sum", "manifest.json", *names],
        user=SERVICE_UID,
        group=SERVICE_UID,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=strict_umask_bundle,
    )
    assert done.returncode == 0, done.stderr
    hashes: dict[str, str] = {}
    for line in done.stdout.splitlines():
        digest, name = line.split("  ", 1)
        hashes[name] = digest
    assert {name: hashes[name] for name in names} == manifest["files"]
