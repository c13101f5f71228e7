"""In CI a missing prerequisite of the real tests fails the run; outside CI those tests skip with a reason.

Each case runs pytest in a subprocess on a one-test file with tests/conftest.py loaded as a plugin, the
checkpoints folder pointed somewhere empty and the prepare script replaced by one that fails (the env
hook DOMAIN_ELECTRA_PREPARE_CHECKPOINTS), so nothing is downloaded and each run takes about a second.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TINY = '''
import pytest
from conftest import CHECKPOINTS, CHECKPOINT_PROBLEM


def test_needs_real_weights():
    if CHECKPOINT_PROBLEM:
        pytest.skip(f"real checkpoints absent: {CHECKPOINT_PROBLEM}")
    assert (CHECKPOINTS / "minilm-l6-h384-uncased" / "config.json").is_file()
'''
FAILING_PREPARE = 'import sys\nprint("pip download: no route to the package index", file=sys.stderr)\nsys.exit(3)\n'
# Imported before conftest: makes `from . import _fastcode` fail, as when setup.py built no extension.
NO_C = 'import sys\nsys.modules["domain_electra.tokenization._fastcode"] = None\n'


def run_tiny(tmp_path: Path, checkpoints: Path, ci: bool, no_c: bool = False) -> subprocess.CompletedProcess:
    (tmp_path / "test_tiny.py").write_text(TINY)
    (tmp_path / "failing_prepare.py").write_text(FAILING_PREPARE)
    (tmp_path / "no_c_build.py").write_text(NO_C)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {"DOMAIN_ELECTRA_CHECKPOINTS": str(checkpoints),
            "DOMAIN_ELECTRA_PREPARE_CHECKPOINTS": str(tmp_path / "failing_prepare.py"),
            "PYTHONPATH": os.pathsep.join([str(TESTS), str(tmp_path), env.get("PYTHONPATH", "")])}
    if ci:
        env["CI"] = "true"
    plugins = ["-p", "no_c_build"] if no_c else []
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *plugins,
                           "-p", "conftest", "test_tiny.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def fake_checkpoints(folder: Path) -> Path:
    for name in ("minilm-l6-h384-uncased", "multilingual-e5-small"):
        (folder / name).mkdir(parents=True)
        (folder / name / "config.json").write_text("{}")
    return folder


@pytest.mark.parametrize("where", ["empty", "unwritable"])
def test_ci_fails_when_checkpoints_cannot_be_prepared(tmp_path, where):
    folder = tmp_path / "empty" if where == "empty" else Path("/proc/domain-electra-no-such-dir")
    result = run_tiny(tmp_path, folder, ci=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "CI: tests that need real weights or the C build cannot run" in output
    assert "minilm-l6-h384-uncased, multilingual-e5-small not in" in output
    expected = "failing_prepare.py exited 3: pip download: no route" if where == "empty" else "FileNotFoundError"
    assert expected in output and "1 passed" not in output


def test_outside_ci_the_same_failure_is_a_skip_with_its_reason(tmp_path):
    result = run_tiny(tmp_path, tmp_path / "empty", ci=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 skipped" in output and "failing_prepare.py exited 3: pip download: no route" in output


def test_ci_fails_when_the_c_pretokenizer_was_not_built(tmp_path):
    result = run_tiny(tmp_path, fake_checkpoints(tmp_path / "ckpt"), ci=True, no_c=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "the C pre-tokenizer (domain_electra/tokenization/_fastcode) was not built" in output


def test_ci_passes_when_everything_is_there(tmp_path):
    from domain_electra.tokenization import code_pretokenizer

    if code_pretokenizer._fastcode is None:
        pytest.skip("this install has no C pre-tokenizer (in CI the session would have stopped already)")
    result = run_tiny(tmp_path, fake_checkpoints(tmp_path / "ckpt"), ci=True)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
