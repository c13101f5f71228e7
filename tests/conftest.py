"""Shared test fixtures: where the real data and the real checkpoints are, and CLI helpers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DOMAIN_ELECTRA_DATA", REPO.parent / "shared" / "data"))


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
