"""BundleWatcher: a new bundle version at the served path is picked up without a restart.

Every `bundle_poll_s` it looks at the manifest behind `bundle_dir`, resolving the path each
time, so that both ways of rolling out work: a directory renamed into place, and a symlink
re-pointed at another directory. A manifest that changed and names another version is
loaded off the event loop (a big bundle takes seconds; requests must not wait for it),
verified as at startup, and swapped in by the catalogue follower, which re-applies the
catalogue log to it. A bundle that fails to load is logged and counted, the old one keeps
serving, and it is tried again only once its manifest changes again.
"""

import asyncio
import logging
import os
import time
from pathlib import Path

from app.bundle import MANIFEST_FILE, BundleMismatch, Manifest
from app.cancellation import raise_if_cancelled
from app.catalogue.follower import CatalogueFollower
from app.model import ServingModel, load_model
from app.serving import ServingSlot
from app.settings import Settings
from app.telemetry import Telemetry

logger = logging.getLogger(__name__)

# the resolved bundle directory and its manifest's device, inode, mtime and size: a rename,
# a re-pointed symlink, a new export and a `touch` all change it
ManifestId = tuple[Path, int, int, int, int]


def load_bundle(settings: Settings, bundle_dir: Path) -> ServingModel:
    """The bundle at `bundle_dir`, verified and loaded with the configured threads."""
    return load_model(
        bundle_dir,
        settings.ort_intra_op_threads,
        settings.faiss_omp_threads,
        settings.explore_popularity_alpha,
        settings.max_batch,
    )


class BundleWatcher:
    __slots__ = ("_follower", "_looked_at", "_settings", "_slot", "_telemetry")

    def __init__(
        self,
        settings: Settings,
        slot: ServingSlot,
        follower: CatalogueFollower,
        telemetry: Telemetry,
    ) -> None:
        self._settings = settings
        self._slot = slot
        self._follower = follower
        self._telemetry = telemetry
        self._looked_at: ManifestId | None = None  # the manifest the last poll acted on

    async def run(self) -> None:
        """Poll until cancelled; nothing a bundle does ends the loop."""
        while True:
            await asyncio.sleep(self._settings.bundle_poll_s)
            try:
                await self.poll()
                raise_if_cancelled()  # absorbed by redis-py? (cancellation.py)
            except Exception:  # a bug here must not end hot swapping for good
                raise_if_cancelled()
                logger.exception("watching %s failed", self._settings.bundle_dir)

    async def poll(self) -> None:
        """One look at the bundle path; swaps when it holds a new version that loads."""
        found = _manifest_id(self._settings.bundle_dir)
        if found is None or found == self._looked_at:
            return  # unchanged, or absent for a moment (between a removal and a rename)
        directory, current = found[0], self._slot.current.model
        try:
            version = Manifest.from_json((directory / MANIFEST_FILE).read_text()).version
        except OSError:
            return  # gone since the stat: the next poll finds what replaced it
        except BundleMismatch as error:
            self._refuse(found, "?", error)
            return
        if version == current.version:
            self._looked_at = found
            return
        started = time.perf_counter()
        try:
            model = await asyncio.to_thread(load_bundle, self._settings, directory)
        except Exception as error:  # whatever a bad bundle raises, the old one keeps serving
            self._refuse(found, version, error)
            return
        if _manifest_id(self._settings.bundle_dir) != found:
            return  # replaced while it loaded: the next poll takes the newer one
        self._looked_at = found
        await self._follower.swap(model)
        self._telemetry.model_swaps.inc()
        self._telemetry.serving(model.version)
        seconds = time.perf_counter() - started
        logger.info(
            "serving bundle %s from %s (loaded in %.1f s), replacing %s",
            model.version,
            directory,
            seconds,
            current.version,
            extra={"version": model.version, "replaced": current.version, "load_s": seconds},
        )

    def _refuse(self, found: ManifestId, version: str, error: Exception) -> None:
        self._looked_at = found  # not again until the manifest changes
        self._telemetry.model_swap_failures.inc()
        serving = self._slot.current.model.version
        logger.error(
            "bundle %s (version %s) refused, still serving %s: %s",
            found[0],
            version,
            serving,
            error,
            exc_info=not isinstance(error, BundleMismatch),  # a surprise gets its traceback
            extra={"version": version, "serving": serving},
        )


def _manifest_id(bundle_dir: Path) -> ManifestId | None:
    """None while there is no manifest behind the path."""
    try:
        directory = bundle_dir.resolve(strict=True)
        stat = os.stat(directory / MANIFEST_FILE)
    except OSError:
        return None
    return directory, stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size
