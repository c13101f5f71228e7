import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from domain_electra.conformance import check_domain
from domain_electra.domain import Domain
from domain_electra.errors import UserError
from domain_electra.registry import discover, find_domain, get_domain

BUILTINS = {"code", "legal", "medical", "finance"}


def test_builtins_are_discovered_through_the_entry_point_group():
    found = {d.domain.name: d for d in discover(broken=[])}  # another installed plugin may be broken: not ours
    assert BUILTINS <= set(found)
    for name in BUILTINS:
        assert found[name].source == "built-in"
        assert found[name].origin == f"domain_electra.domains.{name}:DOMAIN"


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_discovered_domain_conforms(name):
    assert check_domain(get_domain(name)) == []


def test_the_builtins_conform_whatever_else_is_installed():
    """Third-party plugins are checked by their own tests (the scaffold writes one); these checks must pass
    with any plugin installed beside the built-ins."""
    found = [d for d in discover(broken=[]) if d.source == "built-in"]
    assert {d.domain.name for d in found} == BUILTINS
    for d in found:
        assert check_domain(d.domain) == [], d.domain.name


def test_builtin_plugins_have_the_same_layout_and_are_self_contained(tmp_path):
    """Each built-in domain folder holds its own plugin, cleaners, tasks and data-set parsers (more modules
    may sit beside them) and imports the toolkit only through its public plugin API, as a third party would."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "domains"
    for name in BUILTINS:
        files = {p.name for p in (root / name).glob("*.py")}
        assert {"__init__.py", "plugin.py", "cleaners.py", "tasks.py", "data.py"} <= files, (name, files)
        tree = ast.parse((root / name / "data.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert {m for m in imported if m.startswith("domain_electra")} <= {"domain_electra.plugin_api"}, imported
    assert not list((root.parent / "domain_electra" / "evaluation").glob("data_*.py"))


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(UserError) as info:
        get_domain("patents")
    message = str(info.value)
    assert "unknown domain 'patents'" in message
    for name in BUILTINS:
        assert name in message


def test_load_by_path_from_a_single_file(tmp_path):
    plugin = tmp_path / "tiny_plugin.py"
    plugin.write_text(textwrap.dedent('''
        from domain_electra.domain import Domain, MaskingPolicy, TokenizerRecipe
        DOMAIN = Domain(name="tiny", description="a test domain", languages=("en",), cleaners=lambda o: [],
                        tokenizer=TokenizerRecipe(), masking=MaskingPolicy(), eval_tasks=(),
                        examples=("hello world",))
    '''))
    found = find_domain(str(plugin))
    assert found.source == "path" and found.domain.name == "tiny"
    assert check_domain(found.domain) == []


def test_path_without_domain_object_is_a_clear_error(tmp_path):
    plugin = tmp_path / "empty_plugin.py"
    plugin.write_text("X = 1\n")
    with pytest.raises(UserError, match="does not define a Domain"):
        get_domain(str(plugin))


def test_plugin_that_raises_on_import_is_a_clear_error(tmp_path):
    plugin = tmp_path / "broken_plugin.py"
    plugin.write_text("import not_a_module_anywhere\n")
    with pytest.raises(UserError, match="importing the domain plugin .* failed: ModuleNotFoundError"):
        get_domain(str(plugin))


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="domain path not found"):
        get_domain(str(tmp_path / "nope" / "plugin.py"))


def test_conformance_catches_bad_plugins():
    bad = Domain(name="Bad Name", description="", languages=(), cleaners=lambda o: [lambda d: "Not Snake"],
                 tokenizer=get_domain("legal").tokenizer, masking=get_domain("legal").masking, eval_tasks=(),
                 examples=("x",))
    problems = check_domain(bad)
    assert any("name" in p for p in problems)
    assert any("description" in p for p in problems)
    assert any("snake_case" in p for p in problems)


THIRD_PARTY = """
from domain_electra.plugin_api import Domain, MaskingPolicy, TokenizerRecipe
DOMAIN = Domain(name="contracts", description="a third-party test plugin", languages=("en",), cleaners=lambda o: [],
                tokenizer=TokenizerRecipe(), masking=MaskingPolicy(), eval_tasks=(), examples=("hello world",))
"""


def test_the_suite_checks_pass_with_a_third_party_plugin_installed(tmp_path):
    """A plugin installed beside the built-ins (an entry point in a dist-info on the path, as pip writes it;
    named 'contracts' so that it sorts between the built-ins) must not fail the toolkit's own checks."""
    site = tmp_path / "site"
    dist = site / "domain_electra_contracts-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: domain-electra-contracts\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[domain_electra.domains]\ncontracts = contracts_plugin:DOMAIN\n")
    (site / "contracts_plugin.py").write_text(THIRD_PARTY)
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    seen = subprocess.run([sys.executable, "-c", "from domain_electra.registry import available_names as a; print(a())"],
                          capture_output=True, text=True, env=env, cwd=repo)
    assert "'contracts'" in seen.stdout, seen.stdout + seen.stderr
    checks = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_spine_registry.py",
         "tests/test_spine_shipped_configs.py", "tests/test_spine_cli.py", "-k",
         "not third_party and (discovered_through or unknown_name or suite_loads or domains_list or unknown_domain)"],
        capture_output=True, text=True, env=env, cwd=repo)
    assert checks.returncode == 0, checks.stdout[-3000:] + checks.stderr[-2000:]
    import re

    passed = re.search(r"(\d+) passed", checks.stdout)
    assert passed and int(passed.group(1)) >= 9 and "failed" not in checks.stdout, checks.stdout[-2000:]
