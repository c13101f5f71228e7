"""The declared dependency floors cover what the code uses (checked by a lowest-versions install, see
benchmarks/RESULTS.md "Lowest supported versions"); these pin the floors that install found too low."""
from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def declared() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    found = [Requirement(line) for line in project["dependencies"]]
    found += [Requirement(line) for extra in project["optional-dependencies"].values() for line in extra]
    return {r.name: r for r in found}


def test_datasketch_internals_used_exist_and_its_floor_is_2():
    # corpus/steps.py mirrors datasketch's affine64 MinHash scheme bit for bit with its `_fmix` pre-mix
    # (datasketch 2.0; 1.6 ... 1.10 have neither), and build.py uses MinHashLSHBloom and LeanMinHash(scheme=).
    import inspect

    import datasketch
    from datasketch.minhash import _fmix  # noqa: F401

    assert hasattr(datasketch, "MinHashLSHBloom")
    assert "scheme" in inspect.signature(datasketch.LeanMinHash.__init__).parameters
    assert int(datasketch.__version__.split(".")[0]) >= 2
    spec = declared()["datasketch"].specifier
    assert not spec.contains("1.10.0") and spec.contains("2.0.0"), spec


def test_floors_that_the_lowest_install_showed_too_low_stay_raised():
    # Each of these failed at its old floor: tests broke (typer 0.12-0.15 with click 8.5 parses options as
    # arguments; tree-sitter-php 0.23.0 hands over a capsule the runtime rejects; tree-sitter < 0.26.1
    # parses broken code unlike the C pre-tokenizer's runtime 0.26.1) or the resolver could not install it.
    too_low = {"datasketch": "1.6.0", "typer": "0.15.4", "tree-sitter": "0.26.0", "tree-sitter-php": "0.23.0",
               "tokenizers": "0.21.0", "safetensors": "0.4.0"}
    deps = declared()
    for name, version in too_low.items():
        assert not deps[name].specifier.contains(version), (name, str(deps[name].specifier))
