"""The tiny checkpoint grown to 5,000 items, and its bundle with an approximate index.

A low size threshold forces the approximate path that a million items take, in seconds.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest

from models.export import export
from models.grow_catalogue import Growth, grow_checkpoint
from models.index_choice import Candidate, IndexPlan
from tests.conftest import TinyBundle

GROWN_ITEMS = 5000
TEST_PLAN = IndexPlan(
    exact_max_items=1000,
    candidates=(
        Candidate("IVF64,Flat", "nprobe", (1, 2, 4, 8, 16, 32, 64)),
        Candidate("HNSW16", "efSearch", (128, 256, 512)),
    ),
    n_queries=300,
    large_k=500,
)


@dataclass(frozen=True, slots=True)
class GrownBundle:
    path: Path
    growth: Growth


@pytest.fixture(scope="session")
def growth(tiny_bundle: TinyBundle) -> Growth:
    return grow_checkpoint(tiny_bundle.checkpoint, GROWN_ITEMS, seed=3)


@pytest.fixture(scope="session")
def grown_bundle(
    tiny_bundle: TinyBundle, growth: Growth, tmp_path_factory: pytest.TempPathFactory
) -> GrownBundle:
    path = tmp_path_factory.mktemp("bundles") / "grown"
    sessions = tiny_bundle.data.held_out.sessions
    export(growth.checkpoint, path, {}, "grown-test", 8, sessions, TEST_PLAN)
    return GrownBundle(path, growth)
