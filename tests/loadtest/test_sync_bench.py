"""The sync benchmark runs against a real redis-server and prints its figure per size (a short
run; its times are not asserted)."""

import re

import pytest

from loadtest.sync_bench import main


def test_the_sync_bench_prints_a_median_per_size(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--uploads", "300", "600", "--shown", "10"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2, lines
    for uploads, line in zip((300, 600), lines, strict=True):
        assert re.fullmatch(
            rf"{uploads} young uploads, 10 counted since the last sync: "
            r"sync median [\d.]+ ms, max [\d.]+ ms",
            line,
        ), line
