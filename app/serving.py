"""What the service answers with right now, and the one place that replaces it (hot swap).

Starlette gives each request a shallow copy of the lifespan State, so a swap cannot replace
an entry of it: the State holds one ServingSlot, and a swap assigns its `current`. A route
reads `current` once and uses that Serving for the whole request, so one request never
mixes two bundles.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.bandit.bundle_arms import BundleArms
from app.bandit.rewards import ArmStats
from app.model import ServingModel


@dataclass(frozen=True, slots=True)
class Retired:
    """The bundle a swap replaced, as far as its live sessions need it to be carried over."""

    version: str
    rows: npt.NDArray[np.int64]  # (its n_items,) its item row -> the new bundle's row, or -1


@dataclass(frozen=True, slots=True)
class Serving:
    model: ServingModel
    arms: ArmStats  # the bandit counts of this bundle's clusters
    previous: Retired | None = None  # None until the first swap


ArmsFor = Callable[[ServingModel], Awaitable[BundleArms]]


class ServingSlot:
    __slots__ = ("_arms", "_arms_for", "current")

    def __init__(self, current: Serving, arms: BundleArms, arms_for: ArmsFor) -> None:
        self.current = current  # replaced whole, by one assignment, never changed in place
        self._arms = arms
        self._arms_for = arms_for

    @classmethod
    async def open(cls, model: ServingModel, arms_for: ArmsFor) -> "ServingSlot":
        arms = await arms_for(model)
        return cls(Serving(model, arms.arms), arms, arms_for)

    async def swap(self, model: ServingModel, rows: npt.NDArray[np.int64]) -> Serving:
        """Serve `model` from the next request on; returns the Serving it replaced.

        `rows` maps the replaced bundle's item rows to `model`'s. Requests already running
        finish on the old Serving; its bandit counts are synced one last time and dropped.
        """
        arms = await self._arms_for(model)
        replaced = self.current
        self.current = Serving(model, arms.arms, Retired(replaced.model.version, rows))
        old_arms, self._arms = self._arms, arms
        await old_arms.stop()
        return replaced

    async def close(self) -> None:
        await self._arms.stop()
