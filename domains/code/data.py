"""Code data sets from CodeXGLUE: CoSQA relevance, Java -> C# retrieval, ClozeTest-maxmin."""
from __future__ import annotations

from pathlib import Path

from domain_electra.plugin_api import (TaskData, UserError, bad_format, data_path, dataset_dir, key_split, read_json,
                                         require_keys, source_license)

CODEXGLUE = "github.com/microsoft/CodeXGLUE"
COSQA = "code/codexglue-cosqa"
JAVA_CS = "code/codexglue-java-cs-translation"
CLOZE = "code/codexglue-cloze-maxmin"
CLOZE_LANGUAGES = ("go", "java", "javascript", "php", "python", "ruby")


def read_cosqa(path: Path, labelled: bool = True) -> list[dict]:
    rows = read_json(path)
    if not isinstance(rows, list):
        raise bad_format(path, "a JSON list of {idx, doc, code, label} records")
    keys = ("idx", "doc", "code", "label") if labelled else ("idx", "doc", "code")
    for row in rows:
        require_keys(row, keys, path)
    return rows


def load_cosqa(data_dir=None) -> TaskData:
    """CoSQA query/code relevance (pair classification) from cosqa-dev.json, the labelled file published.

    Its 604 pairs are split by query (hash): no web query is in two splits. test_webquery.json carries
    no labels and is parsed only to check the files.
    """
    folder = dataset_dir(data_dir, COSQA, ("cosqa-dev.json",), f"{CODEXGLUE} (Text-Code/NL-code-search-WebQuery)")
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for row in read_cosqa(folder / "cosqa-dev.json"):
        if row["label"] not in (0, 1):
            raise bad_format(folder / "cosqa-dev.json", "label must be 0 or 1")
        splits[key_split(row["doc"], dev=15, test=30)].append(
            {"text": row["doc"], "text_pair": row["code"], "label": int(row["label"])})
    return TaskData(train=splits["train"], dev=splits["dev"], test={"python": splits["test"]},
                    labels=("irrelevant", "relevant"), license=source_license(folder))


def read_parallel(folder: Path, split: str) -> list[dict]:
    java_path, cs_path = folder / f"{split}.java-cs.txt.java", folder / f"{split}.java-cs.txt.cs"
    java = java_path.read_text(encoding="utf-8").splitlines()
    cs = cs_path.read_text(encoding="utf-8").splitlines()
    if len(java) != len(cs):
        raise bad_format(cs_path, f"one function per line, parallel to {java_path.name} "
                                  f"({len(java)} vs {len(cs)} lines)")
    return [{"query": j, "document": c} for j, c in zip(java, cs)]


def load_java_cs_retrieval(data_dir=None) -> TaskData:
    """Java function (query) -> its C# translation (document), the published train/valid/test split."""
    files = tuple(f"{s}.java-cs.txt.{e}" for s in ("train", "valid", "test") for e in ("java", "cs"))
    folder = dataset_dir(data_dir, JAVA_CS, files, f"{CODEXGLUE} (Code-Code/code-to-code-trans/data)")
    return TaskData(train=read_parallel(folder, "train"), dev=read_parallel(folder, "valid"),
                    test={"csharp": read_parallel(folder, "test")}, license=source_license(folder))


def read_cloze(path: Path) -> list[dict]:
    rows = read_json(path)
    if not isinstance(rows, list):
        raise bad_format(path, "a JSON list of {idx, nl_tokens, pl_tokens} records")
    out = []
    for row in rows:
        require_keys(row, ("idx", "nl_tokens", "pl_tokens"), path)
        if row["pl_tokens"].count("<mask>") != 1:
            raise bad_format(path, f"{row['idx']}: pl_tokens must hold exactly one <mask>")
        out.append({"id": row["idx"], "text": " ".join(row["nl_tokens"]) + "\n" + " ".join(row["pl_tokens"]),
                    "choices": ["max", "min"]})
    return out


def read_cloze_answers(path: Path) -> dict[str, str]:
    """CodeXGLUE's evaluator answers file: lines `maxmin-1<CODESPLIT>max`."""
    answers = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            idx, _, answer = line.partition("<CODESPLIT>")
            answers[idx.strip()] = answer.strip()
    return answers


def load_cloze_maxmin(data_dir=None, languages: tuple[str, ...] = CLOZE_LANGUAGES, answers_dir: str | None = None) -> TaskData:
    """ClozeTest-maxmin per programming language (zero-shot: test splits only).

    The published data files carry no answers; CodeXGLUE keeps them in
    Code-Code/ClozeTesting-maxmin/evaluator/answers/<lang>/answers.txt. Give that folder as `answers_dir`
    (default: <data set>/answers). Without it the probe cannot be scored and the loader says so.
    """
    files = tuple(f"{lang}/clozeTest.json" for lang in languages)
    folder = dataset_dir(data_dir, CLOZE, files, f"{CODEXGLUE} (Code-Code/ClozeTesting-maxmin/data/cloze-maxmin)")
    answers_root = Path(answers_dir) if answers_dir else folder / "answers"
    test = {}
    for lang in languages:
        rows = read_cloze(folder / lang / "clozeTest.json")
        answer_file = answers_root / lang / "answers.txt"
        if not answer_file.is_file():
            raise UserError(f"ClozeTest-maxmin gold answers missing: {answer_file} (the data files hold none; get "
                            f"evaluator/answers/ of {CODEXGLUE} Code-Code/ClozeTesting-maxmin and pass answers_dir)")
        gold = read_cloze_answers(answer_file)
        test[lang] = [{**row, "answer": gold[row["id"]]} for row in rows if row["id"] in gold]
    return TaskData(train=[], dev=[], test=test, labels=("max", "min"), license=source_license(folder))


def count_cloze(data_dir=None) -> dict[str, int]:
    """Examples per language in the published files (no answers needed): for checks against SOURCE.txt."""
    folder = data_path(data_dir, CLOZE)
    return {lang: len(read_cloze(folder / lang / "clozeTest.json")) for lang in CLOZE_LANGUAGES}
