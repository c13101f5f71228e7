"""The CLI as a user meets it: help with examples, and one-line errors that say what to do."""
import pytest

from conftest import run_cli

COMMANDS = [
    ["domains", "list"], ["domains", "show"], ["domains", "new"], ["corpus", "build"], ["tokenizer", "train"],
    ["tokenizer", "extend"], ["tokenizer", "inspect"], ["tokenizer", "pack"], ["pretrain"], ["finetune"],
    ["evaluate"], ["bench"], ["run"], ["quickstart"],
]


def test_every_command_has_help_with_an_example():
    for command in COMMANDS:
        result = run_cli(*command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "Example: domain-electra " + command[0] in result.stdout, command


def test_domains_list_shows_the_builtins():
    result = run_cli("domains", "list")
    assert result.returncode == 0
    for name in ("code", "legal", "medical", "finance"):
        assert any(line.startswith(f"│ {name} ") or f"│ {name} " in line for line in result.stdout.splitlines())


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unknown_domain_is_a_one_line_error(tmp_path):
    line = one_line_error(run_cli("corpus", "build", "--domain", "patents", "--source", str(tmp_path),
                                  "--out", str(tmp_path / "out")))
    assert "unknown domain 'patents'" in line and all(name in line for name in ("code", "finance", "legal", "medical"))


def test_missing_source_folder_is_a_one_line_error(tmp_path):
    line = one_line_error(run_cli("corpus", "build", "--domain", "legal", "--source", str(tmp_path / "nowhere"),
                                  "--out", str(tmp_path / "out")))
    assert "source not found" in line and "nowhere" in line


@pytest.mark.parametrize("text, expected", [
    ("domain: code\nout: [unclosed\n", "malformed YAML at line"),
    ("domain: code\nout: x\ncorpuz: {}\n", "unknown key 'corpuz'"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_malformed_recipe_is_a_one_line_error(tmp_path, text, expected):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    assert expected in one_line_error(run_cli("run", str(recipe)))


def test_bad_stage_key_in_recipe_names_section_and_key(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"domain: code\nout: {tmp_path / 'o'}\ncorpus: {{sources: [{tmp_path}]}}\npretrain:\n  max_stepz: 3\n")
    assert "unknown key 'pretrain.max_stepz'" in one_line_error(run_cli("run", str(recipe)))


def test_bad_model_spec_in_bench(tmp_path):
    line = one_line_error(run_cli("bench", "--suite", "evals/code.yaml", "--model", "no-equals-sign",
                                  "--out", str(tmp_path / "b")))
    assert "NAME=PATH" in line
