"""What the service answers with right now, and the one place that replaces it.

Starlette gives each request a shallow copy of the lifespan State, so a change cannot replace
an entry of it: the State holds one ServingSlot, and a change assigns its `current`: a hot swap
(a new bundle, its arms and its catalogue) or a new catalogue snapshot of the same bundle (the
catalogue follower). A route reads `current` once and uses that Serving for the whole request,
so one request never mixes two bundles, nor two catalogues.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from app.bandit.bundle_arms import BundleArms
from app.bandit.rewards import ArmStats
from app.catalogue.snapshot import Catalogue
from app.model import ServingModel


@dataclass(frozen=True, slots=True)
class Retired:
    """The bundle a swap replaced, as far as its live sessions need it to be carried over."""

    version: str
    # (its catalogue's rows,) its item row -> the new catalogue's row, or -1: the bundle's
    # items and its uploads as of the swap
    rows: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Serving:
    model: ServingModel
    arms: ArmStats  # the bandit counts of this bundle's clusters
    catalogue: Catalogue  # the bundle's items and the uploads, in this bundle's rows
    previous: Retired | None = None  # None until the first swap


ArmsFor = Callable[[ServingModel], Awaitable[BundleArms]]


class ServingSlot:
    __slots__ = ("_arms", "_arms_for", "current")

    def __init__(self, current: Serving, arms: BundleArms, arms_for: ArmsFor) -> None:
        self.current = current  # replaced whole, by one assignment, never changed in place
        self._arms = arms
        self._arms_for = arms_for

    @classmethod
    async def open(
        cls, model: ServingModel, catalogue: Catalogue, arms_for: ArmsFor
    ) -> "ServingSlot":
        arms = await arms_for(model)
        return cls(Serving(model, arms.arms, catalogue), arms, arms_for)

    async def swap(
        self, model: ServingModel, catalogue: Catalogue, rows: npt.NDArray[np.int64]
    ) -> Serving:
        """Serve `model` and its `catalogue` from the next request on; returns the Serving it
        replaced.

        `rows` maps the replaced catalogue's rows to `catalogue`'s. Requests already running
        finish on the old Serving; its bandit counts are synced one last time and dropped.
        """
        arms = await self._arms_for(model)
        replaced = self.current
        retired = Retired(replaced.model.version, rows)
        self.current = Serving(model, arms.arms, catalogue, retired)
        old_arms, self._arms = self._arms, arms
        await old_arms.stop()
        return replaced

    def publish(self, catalogue: Catalogue) -> None:
        """Serve a newer catalogue of the bundle being served (one assignment)."""
        if catalogue.model_version != self.current.model.version:
            raise ValueError(
                f"a catalogue of {catalogue.model_version} cannot serve beside bundle "
                f"{self.current.model.version}"
            )
        self.current = replace(self.current, catalogue=catalogue)

    async def close(self) -> None:
        await self._arms.stop()
