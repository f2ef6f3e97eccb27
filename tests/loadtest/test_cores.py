"""The CPU split of a load test and its busy shares, read from /proc/stat text."""

import os
from pathlib import Path

import pytest

from loadtest.cores import CpuTimes, core_split

STAT = """cpu  {all}
cpu0 {cpu0} 0 0 {idle0} 0 0 0 0 0 0
cpu1 {cpu1} 0 0 {idle1} 0 0 0 0 0 0
intr 1 2 3
"""


def _stat(path: Path, cpu0: int, idle0: int, cpu1: int, idle1: int) -> CpuTimes:
    text = STAT.format(all="0 " * 10, cpu0=cpu0, idle0=idle0, cpu1=cpu1, idle1=idle1)
    path.write_text(text)
    return CpuTimes.now(path)


def test_busy_share_is_busy_over_elapsed_jiffies_per_side(tmp_path: Path) -> None:
    before = _stat(tmp_path / "a", cpu0=100, idle0=900, cpu1=500, idle1=500)
    after = _stat(tmp_path / "b", cpu0=190, idle0=910, cpu1=525, idle1=575)
    assert after.busy_share(before, (0,)) == pytest.approx(0.9)
    assert after.busy_share(before, (1,)) == pytest.approx(0.25)
    assert after.busy_share(before, (0, 1)) == pytest.approx((90 + 25) / 200)


def test_the_service_gets_the_first_cpus_and_the_generator_keeps_one() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    split = core_split(1)
    assert split.service == (cpus[0],)
    assert split.loader == tuple(cpus[1:])
    greedy = core_split(len(cpus) + 5)
    assert greedy.loader == (cpus[-1],)  # never all of them
    assert split.service_list == str(cpus[0])
    with pytest.raises(ValueError, match="at least 1"):
        core_split(0)
