"""The demo end to end on the tiny bundle (two of its generated topics as the intents), and
its HTML page rendered by headless Chromium (the Debian package `make packages` installs)."""

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from PIL import Image

from demo.run import main
from models.bundle_titles import bundle_titles
from tests.conftest import TinyBundle


def two_topics(tiny_bundle: TinyBundle) -> tuple[str, str]:
    """The generated titles end in '# <topic word>': the two most common topics."""
    tags = Counter(title.rsplit("# ", 1)[-1] for title in bundle_titles(tiny_bundle.path).values())
    (first, _), (second, _) = tags.most_common(2)
    return first, second


def test_the_story_is_told_through_both_feeds_and_its_page_renders(
    tiny_bundle: TinyBundle, tmp_path: Path
) -> None:
    first, second = two_topics(tiny_bundle)
    argv = ["--bundle", str(tiny_bundle.path), "--out", str(tmp_path), "--page-size", "5"]
    argv += ["--from-name", first, "--from-words", first, "--to-name", second]
    argv += ["--to-words", second, "--pages-before", "2", "--pages-after", "3"]
    report = main(argv)
    assert list(report["feeds"]) == ["nextswipe", "popularity feed"]
    assert report["drift_page"] == 2
    for pages in report["feeds"].values():
        assert [page["intent"] for page in pages] == [first] * 2 + [second] * 3
        assert all(len(page["items"]) == 5 for page in pages)
        assert all(0.0 <= share <= 1.0 for page in pages for share in page["shares"].values())
    served = {item for pages in report["feeds"].values() for p in pages for item in p["items"]}
    assert len(served) > 5  # pages differ: nothing is served twice in a session

    page = tmp_path / "demo.html"
    text = page.read_text()
    assert "nextswipe" in text
    assert "popularity feed" in text
    assert "data:image/png;base64," in text  # the picture travels inside the page
    chromium = shutil.which("chromium")
    assert chromium is not None, "headless Chromium is a Debian package: make packages"
    shot = tmp_path / "shot.png"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    command += ["--hide-scrollbars"]
    command += [f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri()]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with Image.open(shot) as image:
        assert image.size == (1400, 1000)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 100  # text, the plot and its lines: not a blank page
