import textwrap

import pytest

from domain_electra.conformance import check_domain
from domain_electra.domain import Domain
from domain_electra.errors import UserError
from domain_electra.registry import discover, find_domain, get_domain

BUILTINS = {"code", "legal", "medical", "finance"}


def test_builtins_are_discovered_through_the_entry_point_group():
    found = {d.domain.name: d for d in discover()}
    assert BUILTINS <= set(found)
    for name in BUILTINS:
        assert found[name].source == "built-in"
        assert found[name].origin == f"domain_electra.domains.{name}:DOMAIN"


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_discovered_domain_conforms(name):
    assert check_domain(get_domain(name)) == []


def test_all_discovered_domains_conform():
    for found in discover():
        assert check_domain(found.domain) == [], found.domain.name


def test_builtin_plugins_have_the_same_files(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "domains"
    files = {name: sorted(p.name for p in (root / name).glob("*.py")) for name in BUILTINS}
    assert len({tuple(v) for v in files.values()}) == 1, files
    assert {"__init__.py", "plugin.py", "cleaners.py", "tasks.py"} <= set(files["code"])


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
