"""Config files and ``--set`` values that used to pass silently or fail with a bare message."""

from __future__ import annotations

from pathlib import Path

import pytest

from predictor.config import Config, ModelConfig
from predictor.io import ConfigError, load_config


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_section_given_twice_is_named_with_file_and_lines(tmp_path):
    path = write(
        tmp_path / "c.yaml", "churn:\n  horizon_days: 60\nvalue: {}\nchurn:\n  rule: auto\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "churn"
    assert str(info.value) == f"churn: {path} line 4: key given twice (first on line 1); remove one"


def test_a_setting_is_refused_when_repeated_in_one_section_not_across_sections(tmp_path):
    apart = write(tmp_path / "a.yaml", "churn:\n  max_depth: 3\nvalue:\n  max_depth: 2\n")
    config = load_config(apart)
    assert (config.churn.max_depth, config.value.max_depth) == (3, 2)
    twice = write(tmp_path / "c.yaml", "churn:\n  horizon_days: 60\n  horizon_days: 30\n")
    with pytest.raises(ConfigError, match=r"^churn\.horizon_days: .*c\.yaml line 3: .*line 2"):
        load_config(twice)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model_name=", "model_name: the value is empty; expected a valid string"),
        ("report.currency=", "report.currency: the value is empty; expected a valid string"),
        ("report.currency=''", "report.currency: the value is empty; string should have"),
        ("churn.horizon_days=", "churn.horizon_days: the value is empty; expected a valid integer"),
    ],
)
def test_an_empty_value_says_it_is_empty_and_names_the_key(override, expected):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert str(info.value).startswith(expected)


def test_every_model_setting_is_described_in_the_schema():
    properties = Config.model_json_schema()["$defs"]["ModelConfig"]["properties"]
    assert set(properties) == set(ModelConfig.model_fields)
    assert [name for name, spec in properties.items() if not spec.get("description")] == []
