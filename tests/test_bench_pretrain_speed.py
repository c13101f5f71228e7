"""Smoke test of benchmarks/pretrain_speed.py at tiny sizes on CPU. Nothing here is timed: it checks that the
benchmark runs end to end (through the toolkit's own training step), writes every JSON field and its own
RESULTS.md section only, stays off the heavy CPU-side imports, and that its loss-curve checks can fail."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "pretrain_speed.py"
ROW_FIELDS = {"device", "versions", "date", "model", "seq_len", "batch", "path", "precision", "status",
              "tokens_per_s", "seq_per_s", "step_ms", "baseline_tokens_per_s", "ratio", "mfu", "peak_gib",
              "model_tflops", "ceiling_tflops"}
TINY = ["--tiny", "--seq-lens", "32", "--groups", "2", "--group", "1", "--warmup", "1", "--curve-steps", "10"]


def load_bench():
    spec = importlib.util.spec_from_file_location("pretrain_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["pretrain_speed"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_bench()


# Not allowed on the GPU path (common.md) or absent from the GPU image: importing any of them fails the smoke
# run. (pyyaml is there: huggingface_hub needs it.)
BLOCKED = ("datasets", "spacy", "tree_sitter", "pandas", "pyarrow", "typer", "rich", "sklearn", "matplotlib")
RUNNER = """
import json, runpy, sys
for name in BLOCKED:  # None in sys.modules: `import name` raises ImportError, find_spec says "not installed"
    sys.modules[name] = None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
print("MODULES=" + json.dumps(sorted(m for m, v in sys.modules.items() if "." not in m and v is not None)))
"""


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The benchmark as a user runs it (a subprocess), with the modules the GPU image lacks blocked."""
    tmp = tmp_path_factory.mktemp("bench")
    results = tmp / "RESULTS.md"
    results.write_text((REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp / "results" / "pretrain_speed.json"
    code = f"BLOCKED = {BLOCKED!r}\n{RUNNER}"
    proc = subprocess.run([sys.executable, "-c", code, str(SCRIPT), *TINY, "--out", str(out),
                           "--results-md", str(results)], capture_output=True, text=True, timeout=600, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = json.loads(proc.stdout.split("MODULES=")[-1])
    return {"out": out, "results": results, "stdout": proc.stdout, "modules": modules}


def test_rows_have_every_field(smoke_run):
    rows = json.loads(smoke_run["out"].read_text())
    paths = [r["path"] for r in rows]
    assert paths[:2] == ["plain bf16+sdpa (baseline)", "toolkit"]
    for row in rows:
        assert ROW_FIELDS - {"tokens_per_s", "seq_per_s", "step_ms", "mfu", "model_tflops", "peak_gib"} <= set(row)
        if row["status"] == "ok":
            assert ROW_FIELDS <= set(row), ROW_FIELDS - set(row)
            assert row["tokens_per_s"] > 0 and row["seq_per_s"] * row["seq_len"] == pytest.approx(row["tokens_per_s"])
            assert row["ratio"] == pytest.approx(row["tokens_per_s"] / row["baseline_tokens_per_s"])
            assert row["peak_gib"] is None and row["precision"] == "fp32"  # CPU
        else:
            assert row["status"].startswith("skipped"), row["status"]
    toolkit = next(r for r in rows if r["path"] == "toolkit")
    assert toolkit["status"] == "ok" and toolkit["host_batch_ms"] > 0  # the toolkit's own step ran
    assert {"plain fp32 eager", "+ masked-only gen head", "+ fused AdamW"} <= {r["path"] for r in rows
                                                                             if r["status"] == "ok"}
    assert rows[0]["versions"]["torch"] and rows[0]["device"].startswith("CPU")


def test_loss_curves_compared(smoke_run):
    curves = json.loads(smoke_run["out"].with_name("pretrain_speed_curves.json").read_text())
    for key in ("lever_equivalence", "same_math", "plain_user_loop"):
        assert curves[key]["ok"], (key, curves[key])
    # fp32, same masks and draws: the toolkit's step is the plain loop's math to rounding.
    assert curves["same_math"]["gen_loss"]["max_rel_gap"] < 1e-5
    assert curves["lever_equivalence"]["disc_loss"]["max_rel_gap"] < 1e-5
    assert len(curves["curves"]["toolkit"]["gen_loss"]) == 10
    assert np.isfinite(curves["curves"]["plain"]["disc_loss"]).all()


def test_results_section_only(smoke_run):
    before = (REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    after = smoke_run["results"].read_text(encoding="utf-8")
    heading = "## Pretraining speed (GPU)"
    head_b, rest_b = before.split(heading)
    head_a, rest_a = after.split(heading)
    assert head_a == head_b
    assert rest_a[rest_a.index("\n## "):] == rest_b[rest_b.index("\n## "):]  # later sections untouched
    section = rest_a[:rest_a.index("\n## ")]
    assert "NOT performance figures" in section and "| electra-tiny | 32 | 8 | toolkit |" in section
    assert "PASS" in section and "FAIL" not in section


def test_gpu_path_imports_stay_light(smoke_run):
    assert "domain_electra" in smoke_run["modules"]
    assert not set(BLOCKED) & set(smoke_run["modules"])


def test_same_math_check_catches_a_wrong_learning_rate(bench, tmp_path, monkeypatch):
    """Fault injection: a plain loop with twice the learning rate must fail the fp32 'same math' check."""
    args = bench.parse_args(["--tiny", "--curve-steps", "6"])
    args.tmp = str(tmp_path)
    monkeypatch.setattr(bench, "lr_lambda", lambda total: (lambda s: 2.0 * min((s + 1) / bench.WARMUP, 1.0)))
    result = bench.curve_checks(args, bench.torch.device("cpu"))
    assert not result["same_math"]["ok"]
    assert result["same_math"]["gen_loss"]["max_rel_gap"] > bench.SAME_RTOL["fp32"]


def test_compare_curves_tolerance(bench):
    ref = {"gen_loss": [10.0] * 20, "disc_loss": [0.5] * 20}
    near = {"gen_loss": [10.2] * 20, "disc_loss": [0.5] * 20}
    assert bench.compare_curves(ref, near, 5, 0.03)["ok"]
    assert not bench.compare_curves(ref, near, 5, 0.01)["ok"]
    noisy = {"gen_loss": [10.1] * 20, "disc_loss": [0.5] * 20}  # seed gap 1% -> tolerance 3%
    assert bench.compare_curves(ref, near, 5, 0.01, noise=noisy)["ok"]
    nan = {"gen_loss": [float("nan")] * 20, "disc_loss": [0.5] * 20}
    assert not bench.compare_curves(ref, nan, 5, 0.5)["ok"]


def test_flops_formula_hand_checked(bench):
    # ELECTRA-base, seq 128: forward per token = disc 12 x (8*768^2 + 4*768*3072 + 4*128*768) + RTD head
    # 2*768^2 + 2*768, + gen 12 x (8*256^2 + 4*256*1024 + 4*128*256) + projection 2*768*256, + 15% x
    # (2*256*768 + 2*768*30522); x3 for forward + backward.
    disc = 12 * (8 * 768 ** 2 + 4 * 768 * 3072 + 4 * 128 * 768) + 2 * 768 ** 2 + 2 * 768
    gen = 12 * (8 * 256 ** 2 + 4 * 256 * 1024 + 4 * 128 * 256) + 2 * 768 * 256
    head = 0.15 * (2 * 256 * 768 + 2 * 768 * 30522)
    assert bench.step_flops("base", 256, 128) == pytest.approx(3 * 256 * 128 * (disc + gen + head))
    assert bench.step_flops("base", 1, 128) / 128 == pytest.approx(611.1e6, rel=1e-3)


def test_synthetic_rows_are_packed_rows(bench, tmp_path):
    rows = bench.synthetic_rows(40, 32, 512, seed=3)
    assert rows.shape == (40, 32) and (rows[:, 0] == bench.SPECIAL["cls"]).all()
    assert rows.min() >= 2 and rows.max() < 512 and not (rows == bench.SPECIAL["mask"]).any()
    assert np.array_equal(rows, bench.synthetic_rows(40, 32, 512, seed=3))
    from domain_electra.tokenization.packed import PackedTokens

    packed = PackedTokens(bench.write_packed(rows, 512, tmp_path / "p"), "train")
    assert len(packed) == 38 and np.array_equal(packed.ids[0], rows[2])
