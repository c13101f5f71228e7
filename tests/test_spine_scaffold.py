import os
import subprocess
import sys

import pytest

from domain_electra.conformance import check_domain
from domain_electra.errors import UserError
from domain_electra.registry import find_domain
from domain_electra.scaffold import scaffold_domain

from conftest import run_cli


def test_scaffolded_plugin_loads_by_path_and_conforms(tmp_path):
    root = scaffold_domain("patents", tmp_path)
    found = find_domain(str(root))
    assert found.source == "path" and found.domain.name == "patents"
    assert check_domain(found.domain) == []
    data = found.domain.task("jargon").load(root / "example-data")
    assert (len(data.train), len(data.dev), len(data.test["en"])) == (10, 2, 4)
    assert sorted(r["label"] for r in data.test["en"]) == [0, 0, 1, 1] and data.license == "CC0-1.0"
    assert sorted(p.name for p in (root / "domain_electra_patents").glob("*.py")) == [
        "__init__.py", "cleaners.py", "plugin.py", "tasks.py"]
    assert not list((root / "domain_electra_patents").rglob("*.jsonl"))  # data is not shipped inside the package
    with pytest.raises(UserError, match="patents/jargon.*--data-dir"):
        found.domain.task("jargon").load(tmp_path / "elsewhere")


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path):
    with pytest.raises(UserError, match="lowercase"):
        scaffold_domain("Patents!", tmp_path)
    scaffold_domain("patents", tmp_path)
    with pytest.raises(UserError, match="already exists"):
        scaffold_domain("patents", tmp_path)


def test_scaffolded_plugin_installs_and_is_listed_and_its_own_tests_pass(tmp_path):
    result = run_cli("domains", "new", "patents", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    root = tmp_path / "domain-electra-patents"
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                              "--target", str(target), str(root)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    env = {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listed = run_cli("domains", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "patents" in line)
    assert "entry point" in row and "jargon" in row
    own_tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                               cwd=root, capture_output=True, text=True, env={**os.environ, **env})
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    assert "3 passed" in own_tests.stdout


def test_a_broken_installed_plugin_does_not_hide_the_others(tmp_path):
    site = tmp_path / "site"
    dist = site / "domain_electra_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: domain-electra-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[domain_electra.domains]\nbroken = no_such_module_anywhere:DOMAIN\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    listed = run_cli("domains", "list", env=env)
    assert listed.returncode == 0 and "legal" in listed.stdout
    assert "warning:" in listed.stderr and "'broken'" in listed.stderr and "ModuleNotFoundError" in listed.stderr
    shown = run_cli("domains", "show", "broken", env=env)
    assert shown.returncode == 2 and shown.stderr.startswith("error: the domain plugin 'broken'")
