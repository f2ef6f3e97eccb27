"""Data from the command line: one file and a split rule, or the split files; clear errors
before any training."""

import subprocess
import sys
from pathlib import Path

import pytest

from models import config as config_module
from models.command_line import DataSource
from models.prepare import prepare

ROOT = Path(__file__).resolve().parents[2]


def gru4rec_file(path: Path, sessions: dict[int, list[str]], day: int) -> Path:
    """The GRU4Rec / session-rec layout: SessionId, ItemId, Time (epoch seconds)."""
    rows = ["SessionId\tItemId\tTime"]
    for session, items in sessions.items():
        rows += [f"{session}\t{item}\t{day * 86400 + n}" for n, item in enumerate(items)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def split_files(tmp_path: Path) -> DataSource:
    train = {s: ["a", "b", "c", "d"][s % 2 :] for s in range(1, 30)}
    return DataSource(
        train=gru4rec_file(tmp_path / "train_tr.txt", train, 1),
        valid=gru4rec_file(tmp_path / "train_valid.txt", {40: ["a", "b", "z"], 41: ["c"]}, 2),
        test=gru4rec_file(tmp_path / "test.txt", {50: ["b", "c"], 51: ["d", "a", "b"]}, 3),
    )


def test_split_files_are_taken_as_they_are(split_files: DataSource) -> None:
    config = config_module.load()
    tune = prepare(config, split_files, "tune")
    assert tune.dataset["split"] == "files"
    assert tune.held_out.sessions.n_predictions == 1  # a -> b; "z" is unknown to training
    assert tune.held_out.dropped_events == 1
    final = prepare(config, split_files, "final")
    assert final.train.n_sessions == 30  # train + validation's session of two known items
    assert final.held_out.sessions.n_predictions == 3
    assert final.dataset["source"]["test"].endswith("test.txt")


def test_tuning_without_validation_names_the_missing_flag(split_files: DataSource) -> None:
    no_valid = DataSource(train=split_files.train, test=split_files.test)
    with pytest.raises(ValueError, match="--valid: no validation sessions"):
        prepare(config_module.load(), no_valid, "tune")


def test_a_user_mod_split_with_no_test_ids_fails_before_training(tmp_path: Path) -> None:
    log = tmp_path / "pairs.tsv"
    log.write_text("".join(f"{n}\ta b c\n" for n in (3, 13, 21, 22)))  # no id ends in 0
    with pytest.raises(ValueError, match=r"pairs\.tsv: no test sessions by split=user_mod"):
        prepare(config_module.load(None, ["split=user_mod"]), DataSource(data=log), "final")


def test_a_held_out_side_of_unknown_items_only_is_an_error(split_files: DataSource) -> None:
    assert split_files.train is not None
    unknown = gru4rec_file(split_files.train.with_name("new.txt"), {60: ["x", "y"]}, 4)
    source = DataSource(train=split_files.train, test=unknown)
    with pytest.raises(ValueError, match=r"new\.txt: the 1 test sessions leave no event"):
        prepare(config_module.load(), source, "final")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "x.tsv", "--train", "y.tsv"], "either --data or --train"),
        (["--valid", "x.tsv"], "--valid and --test need --train"),
        (["--data", "missing.tsv"], "missing.tsv: no such file"),
        (["--data", "README.md", "hidden_size"], "'hidden_size' is not key=value"),
        (["--data", "README.md", "--nope=1"], "unrecognized arguments: --nope=1"),
        (["--data", "README.md"], "README.md: neither an event log"),
    ],
)
def test_command_line_mistakes_end_in_usage_not_a_traceback(
    arguments: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "models.tune", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
