"""The README's "Benchmarks on your own data" example, end to end: its suite YAML and its bench command,
copied from README.md, on tiny CSV and CoNLL files written here and a tiny seeded ELECTRA."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from conftest import run_cli
from test_eval_finetune import make_tiny_electra

README = Path(__file__).resolve().parent.parent / "README.md"
QUEUES = {"billing": "invoice refund charge", "bugs": "crash error broken", "sales": "price quote demo"}


def readme_example() -> tuple[str, str]:
    """The yaml and bash blocks of the README's own-data section (the test runs exactly those)."""
    section = README.read_text().split("## Benchmarks on your own data", 1)[1].split("\n## ", 1)[0]
    yaml_block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    bash_block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip()
    return yaml_block, bash_block


def write_data(root: Path) -> None:
    (root / "tickets").mkdir(parents=True)
    lines = ["body,queue"] + [f"customer {i} reports {words.split()[i % 3]} issue,{queue}"
                              for queue, words in QUEUES.items() for i in range(10)]
    (root / "tickets" / "train.csv").write_text("\n".join(lines) + "\n")
    lines = ["body,queue"] + [f"new {words.split()[i]} today,{queue}" for queue, words in QUEUES.items() for i in range(3)]
    (root / "tickets" / "test.csv").write_text("\r\n".join(lines) + "\r\n")  # a CRLF file
    sentence = "patient {} has {} cancer and {} disease"
    tags = ["O", "O", "O", "B-Disease", "I-Disease", "O", "B-Disease", "I-Disease"]
    conll = "".join("".join(f"{w}\t{t}\n" for w, t in zip(sentence.format(i, a, b).split(), tags)) + "\n"
                    for i, (a, b) in enumerate(zip(["lung", "skin", "bone", "blood"] * 5, ["heart", "gene", "liver", "rare"] * 5)))
    (root / "ner").mkdir()
    (root / "ner" / "train.txt").write_text("-DOCSTART- -X- O O\n\n" + conll)
    (root / "ner" / "test.txt").write_text("\n\n".join(conll.split("\n\n")[:5]))


def test_readme_own_data_suite_runs_with_bench(tmp_path):
    suite_yaml, command = readme_example()
    assert "format: csv" in suite_yaml and "format: conll" in suite_yaml and command.startswith("domain-electra bench")
    (tmp_path / "my-suite.yaml").write_text(suite_yaml)
    write_data(tmp_path / "my-data")
    model = make_tiny_electra(tmp_path / "ckpt" / "minilm-l6-h384-uncased")
    args = shlex.split(command)[1:] + ["--set", "finetune.epochs=1", "--set", "bootstrap=20"]  # seconds, not minutes
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads((tmp_path / "runs" / "my-bench" / "results.json").read_text())
    assert results["complete"] is True and results["name"] == "my-benchmarks"
    assert results["tasks"]["tickets"]["examples"] == {"train": 27, "dev": 3, "test/en": 9}
    assert results["tasks"]["disease-ner"]["examples"] == {"train": 18, "dev": 2, "test/en": 5}
    assert results["tasks"]["tickets"]["metric"] == "macro_f1" and results["tasks"]["tickets"]["license"] == "internal"
    scores = {r["task"]: r for r in results["rows"]}
    assert scores["disease-ner"]["metric"] == "f1" and 0 <= scores["tickets"]["score"] <= 1
    assert (tmp_path / "runs" / "my-bench" / "report.md").read_text().startswith("# Benchmark: my-benchmarks suite")
    assert str(model).endswith("minilm-l6-h384-uncased")
