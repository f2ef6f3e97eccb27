"""Titles: the CSV reader on hand-written files, and the generated catalogue's titles."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from app.content.hashing import HashingEncoder
from models.config import TrainConfig
from models.prepare import item_titles
from models.synthetic import SyntheticConfig, generate, synthetic_titles
from models.titles import read_titles

CSV = 'item,title\n1,"a cat, a box # cats"\n 2 ,plain title\n\n3,""\n'


@pytest.mark.parametrize("name", ["titles.csv", "titles.csv.gz"])
def test_quoted_csv_plain_or_gzip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(CSV)
    else:
        path.write_text(CSV, encoding="utf-8")
    assert read_titles(path) == {"1": "a cat, a box # cats", "2": "plain title", "3": ""}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,name\n1,x\n", "expected the header 'item,title'"),
        ("item,title\n1,x,y\n", r"titles.csv:2: expected 'item,title'"),
        ("item,title\n1,x\n1,y\n", "titles.csv:3: item '1' is listed twice"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "titles.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_titles(path)


def test_config_titles_path_is_read_from_the_repository_root(tmp_path: Path) -> None:
    path = tmp_path / "titles.csv"
    path.write_text(CSV, encoding="utf-8")
    assert item_titles(TrainConfig(titles=str(path)))["2"] == "plain title"  # absolute stays
    assert item_titles(TrainConfig()) == {}  # no file, no generated log: no titles


def test_generated_titles_are_the_same_for_the_same_config() -> None:
    config = SyntheticConfig(n_users=10, n_items=200, n_topics=10)
    titles = synthetic_titles(config)
    assert titles == synthetic_titles(config)
    assert sorted(titles, key=int) == [str(i) for i in range(1, 201)]
    assert titles != synthetic_titles(SyntheticConfig(n_users=10, n_items=200, n_topics=10, seed=1))
    assert item_titles(TrainConfig(synthetic_users=10, synthetic_items=200, synthetic_topics=10))


def test_generated_titles_of_a_topic_share_words() -> None:
    """The hashing encoder puts items of one topic (the log's ground truth) closer together."""
    config = SyntheticConfig(n_users=100, n_items=400, n_topics=8)
    log = generate(config)
    topic_of = dict(zip(log.item_id.tolist(), log.item_topic.tolist(), strict=True))
    ids = sorted(topic_of)
    titles = synthetic_titles(config)
    vectors = HashingEncoder(1024).encode([titles[str(i)] for i in ids])
    topics = np.array([topic_of[i] for i in ids])
    similarity = vectors @ vectors.T
    same = topics[:, None] == topics[None, :]
    off_diagonal = ~np.eye(len(ids), dtype=bool)
    assert similarity[same & off_diagonal].mean() > 0.15
    assert abs(similarity[~same].mean()) < 0.03
