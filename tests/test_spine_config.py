from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from domain_electra.config import apply_overrides, from_dict, load_config, read_yaml, save_config
from domain_electra.errors import UserError


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-3
    betas: tuple[float, ...] = (0.9, 0.999)


@dataclass(frozen=True)
class Toy:
    name: str
    steps: int = 10
    device: Literal["auto", "cpu", "cuda"] = "auto"
    tags: list[str] = field(default_factory=list)
    limit: Optional[int] = None
    optim: Optim = field(default_factory=Optim)


def test_yaml_and_overrides_build_typed_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: run\nsteps: 5\noptim:\n  lr: 2\n  betas: [0.8, 0.9]\n")
    config = load_config(Toy, path, ["optim.lr=3e-4", "limit=7", "tags=[a, b]"])
    assert config == Toy(name="run", steps=5, limit=7, tags=["a", "b"], optim=Optim(lr=3e-4, betas=(0.8, 0.9)))
    assert isinstance(config.optim.lr, float)


def test_round_trip_through_yaml(tmp_path):
    config = Toy(name="x", tags=["t"], optim=Optim(lr=0.5))
    save_config(config, tmp_path / "c.yaml")
    assert load_config(Toy, tmp_path / "c.yaml") == config


@pytest.mark.parametrize("data, message", [
    ({"name": "x", "stepz": 3}, "unknown key 'stepz'"),
    ({"name": "x", "steps": "many"}, "steps: expected an integer"),
    ({"name": "x", "steps": True}, "steps: expected an integer"),
    ({"name": "x", "device": "tpu"}, "device: 'tpu' is not one of"),
    ({"name": "x", "optim": {"lr": "fast"}}, "optim.lr: expected a number"),
    ({"name": "x", "optim": {"momentum": 1}}, "unknown key 'optim.momentum'"),
    ({"steps": 1}, "missing required key 'name'"),
])
def test_bad_config_is_one_line_error_naming_the_key(data, message):
    with pytest.raises(UserError) as info:
        from_dict(Toy, data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsteps: [1, 2\n")
    with pytest.raises(UserError, match=r"bad.yaml: malformed YAML at line \d+"):
        read_yaml(path)


def test_yaml_that_is_not_a_mapping_is_rejected(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(UserError, match="expected a mapping"):
        read_yaml(path)


def test_override_without_equals_sign():
    with pytest.raises(UserError, match="key=value"):
        apply_overrides({}, ["optim.lr"])


def test_exponent_floats_without_a_dot_read_as_floats_in_files_and_overrides(tmp_path):
    # PyYAML alone (YAML 1.1) reads "3e-4" as a string; untyped places (cleaner options, recorded
    # overrides, list values) kept that string. YAML 1.2 floats everywhere, other strings untouched.
    path = tmp_path / "recipe.yaml"
    path.write_text("lr: 3e-4\noptions: {min_ratio: 1E-2, tag: 4e5f12, name: e5}\ngrid: [5e-4, 2e-3]\n")
    data = read_yaml(path)
    assert data == {"lr": 3e-4, "options": {"min_ratio": 0.01, "tag": "4e5f12", "name": "e5"}, "grid": [5e-4, 2e-3]}
    assert apply_overrides({}, ["a.lr=2e-5", "b=-1e+3", "c=12", "d=1e"]) == {"a": {"lr": 2e-5}, "b": -1000.0,
                                                                          "c": 12, "d": "1e"}
