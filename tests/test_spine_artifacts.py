import json
from dataclasses import dataclass

import pytest

from domain_electra.artifacts import MANIFEST, run_stage
from domain_electra.errors import UserError


@dataclass(frozen=True)
class Cfg:
    n: int = 1


def counting_build(calls):
    def build(folder):
        calls.append(folder)
        (folder / "data.txt").write_text("x")
        return {"rows": 3}
    return build


def test_stage_writes_config_and_manifest_then_skips(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    calls = []
    first = run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert not first.skipped and len(calls) == 1
    assert manifest["status"] == "complete" and manifest["outputs"] == {"rows": 3}
    assert manifest["inputs"]["src"]["fingerprint"] and "torch" in manifest["versions"]
    assert (tmp_path / "out" / "config.yaml").read_text().strip() == "n: 1"
    second = run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    assert second.skipped and len(calls) == 1


def test_changed_input_or_config_reruns(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    calls = []
    run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls))
    (src / "b.txt").write_text("new file")
    assert not run_stage("demo", tmp_path / "out", Cfg(), {"src": src}, counting_build(calls)).skipped
    assert not run_stage("demo", tmp_path / "out", Cfg(n=2), {"src": src}, counting_build(calls)).skipped
    assert len(calls) == 3


def test_interrupted_stage_keeps_its_files_for_resume(tmp_path):
    def crash(folder):
        (folder / "checkpoint").write_text("step 5")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage("demo", tmp_path / "out", Cfg(), {}, crash)
    assert not (tmp_path / "out" / MANIFEST).exists()
    seen = []
    run_stage("demo", tmp_path / "out", Cfg(), {}, lambda f: seen.append((f / "checkpoint").read_text()))
    assert seen == ["step 5"]


def test_refuses_to_write_into_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="not written by domain-electra"):
        run_stage("demo", tmp_path / "mine", Cfg(), {}, lambda f: None)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
