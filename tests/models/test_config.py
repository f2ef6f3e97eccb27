"""The training config: defaults, TOML files, key=value overrides and their checks."""

import dataclasses
from pathlib import Path

import pytest

from models import config as config_module
from models.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    config = config_module.load()
    assert config == TrainConfig()
    assert config.loss == "bpr-max"
    assert config.hidden_size == 512
    assert config.n_sample == 2048
    assert config.batch_size == 128
    assert config.learning_rate == 0.05
    assert config.momentum == 0.15
    assert config.bpreg == 0.9
    assert config.elu_param == 1.0
    assert config.dropout_embed == 0.5
    assert config.dropout_hidden == 0.3
    assert config.shuffle is True
    assert config.to_dict()["n_epochs"] == 10
    assert set(config.to_dict()) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_toml_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'loss = "bpr"\nhidden_size = 64\nlearning_rate = 0.2\nshuffle = false\n'
        "momentum = 0  # an int for a float field\n",
    )
    config = config_module.load(path)
    assert config.loss == "bpr"
    assert config.hidden_size == 64
    assert config.learning_rate == 0.2
    assert config.shuffle is False
    assert config.momentum == 0.0
    assert isinstance(config.momentum, float)
    assert config.n_sample == 2048  # not in the file: default


def test_overrides_beat_the_file_and_are_cast(tmp_path: Path) -> None:
    path = write(tmp_path, 'hidden_size = 64\nloss = "bpr"\nbpreg = 0.5\n')
    config = config_module.load(
        path,
        [
            "hidden_size=32",
            "--n_sample=100",
            "--learning-rate=0.125",
            "loss=cross-entropy",
            "logq=1",  # an int string for a float field
            "shuffle=false",
        ],
    )
    assert config.hidden_size == 32
    assert config.n_sample == 100
    assert config.learning_rate == 0.125
    assert config.loss == "cross-entropy"
    assert config.logq == 1.0
    assert isinstance(config.logq, float)
    assert config.shuffle is False
    assert config.bpreg == 0.5  # from the file, not overridden


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("TRUE", True), ("False", False)],
)
def test_bool_override(text: str, expected: bool) -> None:
    assert config_module.load(None, [f"shuffle={text}"]).shuffle is expected


def test_tiny_config_file_loads() -> None:
    config = config_module.load(ROOT / "models" / "configs" / "tiny.toml")
    assert config.hidden_size == 32
    assert config.threads == 1
    assert config.data_format == "events"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["hiden_size=3"], "unknown config key 'hiden_size'; known: data_format"),
        (["hidden_size"], "is not key=value"),
        (["hidden_size=1.5"], "hidden_size: expected int, got '1.5'"),
        (["hidden_size=abc"], "hidden_size: expected int, got 'abc'"),
        (["learning_rate=fast"], "learning_rate: expected float, got 'fast'"),
        (["shuffle=yes"], "shuffle: expected true or false, got 'yes'"),
        (["loss=foo"], "loss must be one of"),
        (["data_format=csv"], "data_format must be one of"),
        (["split=random"], "split must be one of"),
        (["dropout_embed=1.0"], r"dropout_embed must be in \[0, 1\)"),
        (["dropout_hidden=-0.1"], r"dropout_hidden must be in \[0, 1\)"),
        (["hidden_size=0"], "hidden_size must be at least 1"),
        (["batch_size=0"], "batch_size must be at least 1"),
        (["learning_rate=0"], "learning_rate must be a finite number > 0"),
        (["learning_rate=nan"], "learning_rate must be a finite number > 0"),
        (["learning_rate=inf"], "learning_rate must be a finite number > 0"),
        (["sample_alpha=nan"], "sample_alpha must be a finite number >= 0"),
        (["bpreg=-0.1"], "bpreg must be a finite number >= 0"),
        (["elu_param=-1"], "elu_param must be a finite number >= 0"),
        (["seed=-1"], "seed must be >= 0"),
        (["n_sample=-1"], "n_sample must be >= 0"),
        (["momentum=1"], r"momentum must be in \[0, 1\)"),
    ],
)
def test_bad_overrides_raise(overrides: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_module.load(None, overrides)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hidden_size = 1.5\n", "hidden_size: expected int, got 1.5"),
        ("hidden_size = true\n", "hidden_size: expected int, got True"),
        ("learning_rate = true\n", "learning_rate: expected float, got True"),
        ('learning_rate = "0.1"\n', None),  # a string is parsed like an override
        ("loss = 3\n", "loss: expected str, got 3"),
        ('shuffle = "maybe"\n', "shuffle: expected true or false"),
        ("shuffle = 1\n", "shuffle: expected bool, got 1"),
        ("[model]\nhidden_size = 8\n", "unknown config key 'model'"),
    ],
)
def test_bad_toml_values_raise(tmp_path: Path, text: str, message: str | None) -> None:
    path = write(tmp_path, text)
    if message is None:
        assert config_module.load(path).learning_rate == 0.1
        return
    with pytest.raises(ValueError, match=message):
        config_module.load(path)


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="foo")
    with pytest.raises(ValueError, match="dropout_hidden"):
        TrainConfig(dropout_hidden=1.0)
    with pytest.raises(ValueError, match="n_epochs must be at least 1"):
        TrainConfig(n_epochs=0)
    assert TrainConfig(dropout_embed=0.0, momentum=0.0).dropout_embed == 0.0
