"""The soak's model swap, the README's way of rolling out: the service serves a symlink, and a
new version goes live when the link is re-pointed atomically at another directory.

The second version is the served bundle with another `version` in its manifest: the other
files are symlinks to the first one's (the same bytes, so their sha256 in the manifest still
hold: the manifest hashes every file but itself), which costs nothing even for a big bundle.
"""

import dataclasses
import os
from pathlib import Path

from app.bundle import MANIFEST_FILE, read_manifest

LINK_NAME = "current"
NEXT_NAME = "next"  # the second version's directory, beside the link


def serve_through_link(bundle: Path, directory: Path) -> Path:
    """`directory/current` -> `bundle`: the path to give the service as NEXTSWIPE_BUNDLE."""
    link = directory / LINK_NAME
    link.symlink_to(bundle.resolve(), target_is_directory=True)
    return link


def publish_version(link: Path, suffix: str) -> tuple[str, str]:
    """A copy of the bundle behind `link` whose version has `suffix` appended, then the link
    re-pointed at it in one rename; returns the old version and the new one."""
    served = link.resolve(strict=True)
    manifest = read_manifest(served)
    version = manifest.version + suffix
    target = link.parent / NEXT_NAME
    target.mkdir()
    for path in served.iterdir():
        if path.name != MANIFEST_FILE:
            (target / path.name).symlink_to(path.resolve())
    (target / MANIFEST_FILE).write_text(dataclasses.replace(manifest, version=version).to_json())
    staged = link.with_name(f"{link.name}.new")
    staged.symlink_to(target, target_is_directory=True)
    os.replace(staged, link)
    return manifest.version, version
