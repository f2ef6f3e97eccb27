"""The tier benchmark runs and prints its figure (a short run; its times are not asserted)."""

import re

import pytest

from loadtest.tier_bench import main


def test_the_tier_bench_prints_a_median_per_page(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--uploads", "300", "--seen-share", "0.5"])
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        r"NewItemTier\.choose, 300 uploads \(50% seen once\): median [\d.]+ ms per page "
        r"\(runs [\d.]+-[\d.]+\)",
        line,
    ), line
