"""benchmarks/dapt_gain.py: the arms' pretraining configs, the intrinsic numbers and the rows it records."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dapt():
    spec = importlib.util.spec_from_file_location("dapt_gain", REPO / "benchmarks" / "dapt_gain.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["dapt_gain"] = module
    spec.loader.exec_module(module)
    return module


def test_intrinsic_numbers_come_from_the_first_and_last_validation(tmp_path, dapt):
    lines = [{"step": 0, "tokens": 0, "split": "validation", "gen_acc": 0.05, "disc_auc": 0.5},
             {"step": 10, "tokens": 4096, "split": "train", "elapsed_s": 12.5},
             {"step": 10, "tokens": 4096, "split": "validation", "gen_acc": 0.31, "disc_auc": 0.93}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert dapt.intrinsic(tmp_path) == {"gen_acc_start": 0.05, "gen_acc_end": 0.31, "disc_auc_start": 0.5,
                                        "disc_auc_end": 0.93, "pretrain_tokens": 4096, "train_s": 12.5}


def test_suite_rows_are_in_points(dapt):
    results = {"suite_average": {"base": {"mean": 0.5012, "ci_low": 0.48, "ci_high": 0.52},
                                 "rtd": {"mean": 0.5234, "ci_low": 0.50, "ci_high": 0.54}},
               "suite_delta": {"rtd": {"delta": 0.0222, "ci_low": 0.0101, "ci_high": 0.0333}}}
    rows = dapt.suite_rows(results)
    assert rows["base"]["suite_average"] == 50.12 and rows["base"]["delta_vs_base"] is None
    assert rows["rtd"] == {"suite_average": 52.34, "suite_ci": [50.0, 54.0], "delta_vs_base": 2.22,
                           "ci_low": 1.01, "ci_high": 3.33, "delta_vs": {}}


def test_rows_carry_the_paired_delta_between_adapted_arms_both_ways(dapt):
    results = {"suite_average": {m: {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6} for m in ("base", "control", "rtd")},
               "suite_delta": {}, "suite_pairs": {"rtd - control": {"delta": 0.0131, "ci_low": -0.004, "ci_high": 0.0305}}}
    rows = dapt.suite_rows(results)
    assert rows["rtd"]["delta_vs"] == {"control": [1.31, -0.4, 3.05]}
    assert rows["control"]["delta_vs"] == {"rtd": [-1.31, -3.05, 0.4]}  # the interval mirrored, low stays low
    assert rows["base"]["delta_vs"] == {}


def test_arms_share_steps_batch_and_masking_and_differ_in_objective(dapt, tmp_path, monkeypatch):
    seen = []

    class Result:
        path = tmp_path

    from domain_electra import stages
    monkeypatch.setattr(stages, "pretrain_stage", lambda config, tokens, out: seen.append(config) or Result())
    scale = dapt.SCALES["cpu"]
    for arm in ("rtd", "mlm"):
        dapt.pretrain_arm("medical", tmp_path, "/models/minilm", tmp_path / arm, scale, arm, {})
    rtd, mlm = seen
    assert (rtd.max_steps, rtd.batch_size, rtd.lr) == (mlm.max_steps, mlm.batch_size, mlm.lr) == (400, 16, 1e-4)
    assert rtd.whole_word == mlm.whole_word and rtd.objective != mlm.objective == "mlm"


def test_control_corpus_is_general_text_without_the_domain(dapt):
    recipe = dapt.control_recipe()
    assert recipe["languages"] == ["en"] and recipe["decontaminate"] is False
    assert all(source.startswith("/usr/share/doc/") for source in recipe["sources"])


def test_an_unknown_arm_is_refused_before_any_work(dapt, capsys):
    with pytest.raises(SystemExit) as exit_info:
        dapt.main(["--domain", "finance", "--arms", "base,rtd-mixed", "--no-record"])
    assert exit_info.value.code == 2
    assert "unknown arm(s) rtd-mixed: choose from base, control, rtd, mlm, rtd-mix" in capsys.readouterr().err


@pytest.fixture(scope="module")
def dapt_plot():
    spec = importlib.util.spec_from_file_location("dapt_plot", REPO / "benchmarks" / "dapt_plot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(domain, arm, delta, anchor=None, day="2026-12-02"):
    return {"domain": domain, "arm": arm, "scale": "cpu", "init": "minilm-l6-h384-uncased", "pretrain_steps": 400,
            "pretrain_set": {"anchor_weight": anchor} if anchor else {}, "date": day,
            "delta_vs_base": delta, "ci_low": None if delta is None else delta - 1, "ci_high": None if delta is None else delta + 1}


def test_plot_draws_each_configuration_once_its_latest_row(dapt_plot, tmp_path):
    rows = [_row("code", "base", None), _row("code", "rtd", -5.3), _row("medical", "rtd", 5.0),
            _row("code", "rtd", 1.4, anchor=1000), _row("code", "rtd", -4.0, day="2026-12-03")]
    shown = dapt_plot.latest_deltas(rows)
    assert [(r["domain"], r["delta_vs_base"]) for r in shown] == [("code", 1.4), ("code", -4.0), ("medical", 5.0)]
    assert dapt_plot.recipe_tag(shown[0]) == "minilm-l6, 400 steps, anchor_weight=1000"
    out = dapt_plot.plot(rows, tmp_path / "gain.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows[2] |= {"counted_sanity_checks": ["medquad-qtype"], "delta_vs_base_without_checks": 1.1}
    assert dapt_plot.plot(rows, tmp_path / "marked.png").read_bytes() != out.read_bytes()
    with pytest.raises(SystemExit, match="no adapted arm"):
        dapt_plot.plot([_row("code", "base", None)], tmp_path / "none.png")
