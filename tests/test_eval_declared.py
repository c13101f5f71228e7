"""Tasks declared in a suite YAML: every format and kind from small files written here, the CoNLL
variants, the stratified duplicate-aware split, suites mixing domains, and each one-line error."""
from __future__ import annotations

import collections
import json
import textwrap

import pytest

from domain_electra.errors import UserError
from domain_electra.evaluation.readers import read_conll, to_iob2
from domain_electra.evaluation.splits import normalise, stratified_split
from domain_electra.evaluation.suite import load_suite

ROWS = [("Shares soar after record profit", "pos"), ("Profit warning sends stock lower", "neg"),
        ("Board keeps dividend unchanged", "neu"), ("Revenue beats every forecast", "pos"),
        ("Bank cuts outlook again", "neg"), ("Quarter ends flat", "neu")]


def suite_file(tmp_path, tasks: str, head: str = "") -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(head) + "tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "  "))
    return str(path)


def one(tmp_path, task: str, head: str = ""):
    suite = load_suite(suite_file(tmp_path, task, head))
    return suite.tasks[0].task, suite.tasks[0].task.load(None)


def write_csv(path, rows, header=("sentence", "sentiment"), sep=","):
    path.write_text(sep.join(header) + "\n" + "".join(f"{t}{sep}{y}\n" for t, y in rows))
    return path.name


def write_table_formats(tmp_path, rows):
    """The same rows as csv, tsv, jsonl, json, parquet and a datasets folder; name -> (format, file)."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{"sentence": t, "sentiment": y} for t, y in rows]
    write_csv(tmp_path / "d.csv", rows)
    write_csv(tmp_path / "d.tsv", rows, sep="\t")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "d.json").write_text(json.dumps({"data": records}))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "d.parquet")
    datasets.Dataset.from_list(records).save_to_disk(str(tmp_path / "d_ds"))
    return {"csv": "d.csv", "tsv": "d.tsv", "jsonl": "d.jsonl", "json": "d.json", "parquet": "d.parquet",
            "datasets": "d_ds"}


def test_every_table_format_gives_the_same_task(tmp_path):
    rows = ROWS * 5  # 30 rows, 10 per label; only one file: train/dev/test cut by the split rule
    rows = [(f"{t} {i}", y) for i, (t, y) in enumerate(rows)]
    seen = {}
    for fmt, name in write_table_formats(tmp_path, rows).items():
        _, data = one(tmp_path, f"""
            - name: news-{fmt}
              kind: classification
              format: {fmt}
              path: {name}
              text: sentence
              label: sentiment
              split: {{dev: 0.2, test: 0.2, seed: 3}}
            """)
        seen[fmt] = (data.labels, data.train, data.dev, data.test)
    first = seen["csv"]
    assert first[0] == ("neg", "neu", "pos") and (len(first[1]), len(first[2]), len(first[3]["en"])) == (18, 6, 6)
    assert all(v == first for v in seen.values()), {k: len(v[1]) for k, v in seen.items()}
    assert collections.Counter(r["label"] for r in first[2]) == {0: 2, 1: 2, 2: 2}  # stratified dev


def test_files_with_listed_labels_and_no_dev_file(tmp_path):
    write_csv(tmp_path / "train.csv", [(f"{t} {i}", y) for i in range(4) for t, y in ROWS])
    write_csv(tmp_path / "test.csv", ROWS)
    task, data = one(tmp_path, """
        - name: tweets
          kind: classification
          format: csv
          files: {train: train.csv, test: test.csv}
          text: sentence
          label: sentiment
          labels: [pos, neg, neu]
          metric: macro_f1
          license: CC0-1.0
          source: written by the test
        """)
    assert data.labels == ("pos", "neg", "neu") and task.metric == "macro_f1" and data.license == "CC0-1.0"
    assert (len(data.train), len(data.dev), len(data.test["en"])) == (22, 2, 6)
    assert data.test["en"][0] == {"text": ROWS[0][0], "label": 0} and task.source_url == "written by the test"


def test_pair_multilabel_regression_and_retrieval(tmp_path):
    pair = [{"q": f"question {i}", "a": f"answer {i % 3}", "y": "yes" if i % 2 else "no"} for i in range(20)]
    (tmp_path / "pair.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pair))
    _, data = one(tmp_path, """
        - {name: qa, kind: pair, path: pair.jsonl, text: q, text_pair: a, label: y}
        """)
    assert data.labels == ("no", "yes") and set(data.train[0]) == {"text", "text_pair", "label"}
    write_csv(tmp_path / "ml.csv", [(f"clause {i}", ["a|b", "b", "", "c|a"][i % 4]) for i in range(24)],
              header=("text", "tags"))
    _, data = one(tmp_path, "- {name: clauses, kind: multilabel, path: ml.csv, label: tags}\n")
    assert data.labels == ("a", "b", "c")
    assert sorted(map(tuple, (r["label"] for r in data.train + data.dev + data.test["en"]))).count((0, 1)) == 6
    write_csv(tmp_path / "sts.csv", [(f"s{i}", f"{i / 10:.1f}") for i in range(20)], header=("text", "score"))
    _, data = one(tmp_path, "- {name: sts, kind: regression, path: sts.csv, label: score, metric: spearman}\n")
    assert data.labels == () and isinstance(data.train[0]["label"], float)
    write_csv(tmp_path / "sts2.csv", [(f"a{i},b{i}", f"{i / 10:.1f}") for i in range(20)], header=("a", "b", "score"))
    _, data = one(tmp_path, "- {name: sts2, kind: regression, path: sts2.csv, columns: {text: a, text_pair: b, "
                            "label: score}}\n")
    assert sorted(data.train[0]) == ["label", "text", "text_pair"] and data.train[0]["text_pair"][0] == "b"
    qd = [{"query": f"how to sort {i}", "document": f"def sort_{i}(): pass"} for i in range(10)]
    (tmp_path / "qd.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qd))
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"document": f"def other_{i}(): pass"}) + "\n"
                                                 for i in range(5)))
    task, data = one(tmp_path, "- {name: code-search, kind: retrieval, files: {test: qd.jsonl, candidates: docs.jsonl}, "
                               "metric: mrr@5}\n")
    assert data.train == [] and data.dev == [] and len(data.test["en"]) == 10
    assert len(data.candidates["en"]) == 5


def test_tsv_quotes_are_literal_and_csv_quotes_quote(tmp_path):
    from domain_electra.evaluation.readers import read_table

    lines = "".join(f'"unbalanced quote {i}\tpos\nfine, "really" {i}\tneg\n' for i in range(10))
    (tmp_path / "q.tsv").write_text("text\tlabel\n" + lines)
    _, data = one(tmp_path, "- {name: q, kind: classification, path: q.tsv}\n")
    assert data.train[0]["text"] in ('"unbalanced quote 0', 'fine, "really" 0') and len(data.train) == 14
    (tmp_path / "q.csv").write_text('text,label\n"a, quoted\nmultiline cell",pos\nplain,neg\n')
    assert read_table(tmp_path / "q.csv") == [{"text": "a, quoted\nmultiline cell", "label": "pos"},
                                              {"text": "plain", "label": "neg"}]
    assert read_table(tmp_path / "q.tsv", "\t", quoting=True)[0]["text"] != '"unbalanced quote 0'


def test_token_task_from_jsonl_lists(tmp_path):
    rows = [{"words": ["aspirin", "helps", str(i)], "ner": ["I-CHEM", "O", "O"]} for i in range(10)]
    (tmp_path / "ner.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, data = one(tmp_path, "- {name: chem, kind: token, path: ner.jsonl, tokens: words, tags: ner}\n")
    assert data.labels == ("O", "B-CHEM", "I-CHEM") and data.train[0]["tags"] == ["B-CHEM", "O", "O"]


CONLL_IOB1 = ("-DOCSTART- -X- O O\r\n\r\nEU NNP I-ORG\r\nrejects VBZ O\r\nGerman JJ I-MISC\r\ncall NN O\r\n\r\n"
              "Peter NNP I-PER\r\nBlackburn NNP I-PER\r\n\r\n-DOCSTART- -X- O O\r\n\r\nBonn NNP I-LOC\r\n"
              "Paris NNP B-LOC\r\n")


def test_conll_variants_become_iob2(tmp_path):
    crlf_space_iob1 = tmp_path / "a.txt"
    crlf_space_iob1.write_bytes(CONLL_IOB1.encode())
    tab_iob2 = tmp_path / "b.txt"
    tab_iob2.write_text("EU\tB-ORG\nrejects\tO\nGerman\tB-MISC\ncall\tO\n\nPeter\tB-PER\nBlackburn\tI-PER\n\n"
                        "Bonn\tB-LOC\nParis\tB-LOC")  # no final newline
    expected = [{"tokens": ["EU", "rejects", "German", "call"], "tags": ["B-ORG", "O", "B-MISC", "O"]},
                {"tokens": ["Peter", "Blackburn"], "tags": ["B-PER", "I-PER"]},
                {"tokens": ["Bonn", "Paris"], "tags": ["B-LOC", "B-LOC"]}]
    assert read_conll(crlf_space_iob1) == expected and read_conll(tab_iob2) == expected
    assert to_iob2(["I-X", "I-X", "I-Y", "O", "I-Y", "B-Y", "S-Z", "E-Z"]) == \
        ["B-X", "I-X", "B-Y", "O", "B-Y", "B-Y", "B-Z", "I-Z"]
    task, data = one(tmp_path, "- {name: ner, kind: token, format: conll, files: {train: a.txt, dev: b.txt, "
                               "test: {en: b.txt, xx: a.txt}}}\n")
    assert data.labels == ("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER")
    assert task.test_languages == ("en", "xx") and data.test["xx"] == expected and task.metric == "f1"


def test_split_is_stratified_duplicate_aware_and_deterministic():
    # Every label's texts come in pairs that differ only in whitespace; one text carries two labels.
    rows = [{"text": f"{y} clause  {j // 2}" + " " * (j % 2), "label": y}
            for y, n in (("a", 60), ("b", 30), ("c", 10)) for j in range(n)]
    rows[-1] = {"text": "a clause 0", "label": "c"}
    parts = stratified_split(rows, dev=0.1, test=0.2, seed=7)
    texts = {s: {normalise(r["text"]) for r in parts[s]} for s in parts}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["dev"] and not texts["dev"] & texts["test"]
    assert sum(len(v) for v in parts.values()) == 100
    for split, share in (("test", 0.2), ("dev", 0.1)):
        assert abs(len(parts[split]) - 100 * share) <= 3, split
        counts = collections.Counter(r["label"] for r in parts[split])
        assert abs(counts["a"] / len(parts[split]) - 0.6) <= 0.1, (split, counts)
    assert stratified_split(list(reversed(rows)), dev=0.1, test=0.2, seed=7)["test"] == parts["test"][::-1]
    assert stratified_split(rows, dev=0.1, test=0.2, seed=8)["test"] != parts["test"]
    single = stratified_split([{"text": "x", "label": "rare"}, {"text": "y", "label": "z"}], seed=0)
    assert len(single["train"]) == 2  # one row of a label stays in train


def test_suite_mixes_domains_and_declared_tasks(tmp_path, shared_data):
    write_csv(tmp_path / "d.csv", [(f"{t} {i}", y) for i in range(4) for t, y in ROWS])
    suite = load_suite(suite_file(tmp_path, """
        - task: medical/ncbi-disease
        - task: finance/twitter-sentiment
          probe: {template: "{text} Outlook: <mask>.", words: [bearish, bullish, neutral]}
        - {name: news, kind: classification, path: d.csv, text: sentence, label: sentiment}
        """, head="name: my-benchmarks\n"))
    assert suite.name == "my-benchmarks" and suite.domain is None
    assert [(st.task.name, st.domain) for st in suite.tasks] == [("ncbi-disease", "medical"),
                                                                 ("twitter-sentiment", "finance"), ("news", "")]
    with_domain = load_suite(suite_file(tmp_path, "- pubmedqa\n- code/cosqa\n", head="domain: medical\n"))
    assert with_domain.domain.name == "medical" and [st.domain for st in with_domain.tasks] == ["medical", "code"]


def test_paths_resolve_under_the_data_dir(tmp_path):
    data = tmp_path / "data" / "mine"
    data.mkdir(parents=True)
    write_csv(data / "d.csv", [(f"{t} {i}", y) for i in range(4) for t, y in ROWS])
    path = suite_file(tmp_path, "- {name: news, kind: classification, path: mine/d.csv, text: sentence, "
                                "label: sentiment}\n")
    suite = load_suite(path, data_dir=tmp_path / "data")
    assert len(suite.tasks[0].task.load(tmp_path / "data").train) == 17
    with pytest.raises(UserError, match=r"files.train: 'mine/d.csv' not found .*--data-dir"):
        load_suite(path, data_dir=tmp_path / "elsewhere")


GOOD = "{name: t, kind: classification, path: d.csv, text: sentence, label: sentiment"
ERRORS = [  # (task entry, files to write: name -> rows, expected message pattern)
    (GOOD.replace("sentence", "tweet") + "}", r"d.csv: row 1: no column 'tweet' \(the task's 'text' key; "
                                               r"columns: sentence, sentiment\)"),
    (GOOD + ", labels: [pos, neg]}", r"d.csv: row 3: unknown label 'neu' in column 'sentiment' \(key 'label'; "
                                     r"labels listed in 'labels': pos, neg\)"),
    ("{name: t, kind: classification, files: {train: d.csv, test: bad.csv}, text: sentence, label: sentiment}",
     r"bad.csv: row 1: unknown label 'great' in column 'sentiment' \(key 'label'; labels found in train"),
    (GOOD + ", split: {dev: 0.01, test: 0.2}}", r"tasks\[0\] \('t'\): the dev split is empty"),
    (GOOD + ", options: {delimeter: ';'}}", r"unknown option 'options.delimeter' for a csv classification task "
                                            r"\(valid: delimiter, encoding, quoting\)"),
    (GOOD + ", lables: [a]}", r"tasks\[0\] \('t'\): unknown key 'lables' \(valid: name, kind"),
    (GOOD + ", metric: mrr@10}", r"metric 'mrr@10' is not one a classification task produces"),
    (GOOD.replace("classification", "ranking") + "}", r"unknown or missing kind 'ranking'"),
    (GOOD.replace("d.csv", "missing.csv") + "}", r"files.train: 'missing.csv' not found"),
    ("{name: t, kind: token, format: conll, path: d.csv}", r"d.csv: not in the expected format \(line 1: 1 column\(s\); "
                                                           r"expected a token and a BIO tag"),
    ("{name: t, kind: retrieval, path: d.csv, query: sentence, document: sentiment, label: x}",
     r"key 'label' does not apply to a retrieval task"),
    ("{task: finance/twitter-sentiment, options: {levle: high}}",
     r"tasks\[0\]: unknown option 'options.levle' for task 'twitter-sentiment' \(valid: none\)"),
    ("{task: finance/multifin-highlevel, options: {levle: high}}", r"\(valid: level\)"),
    ("{task: code/stdlib-docstring-retrieval, options: {stdlb: /usr/lib}}", r"'options.stdlb' .*\(valid: stdlib\)"),
    ("{task: ncbi-disease}", r"task 'ncbi-disease' needs a domain: write '<domain>/ncbi-disease'"),
]


@pytest.mark.parametrize("entry, expected", ERRORS, ids=[e[1][:30] for e in ERRORS])
def test_every_mistake_is_one_line_naming_file_row_and_key(tmp_path, entry, expected):
    write_csv(tmp_path / "d.csv", [(f"{t} {i}", y) for i in range(4) for t, y in ROWS])
    write_csv(tmp_path / "bad.csv", [("fine day", "great")])
    with pytest.raises(UserError) as info:
        load_suite(suite_file(tmp_path, f"- {entry}\n"))
    message = str(info.value)
    assert "\n" not in message and __import__("re").search(expected, message), message


def test_duplicate_task_names_and_empty_files_are_errors(tmp_path):
    write_csv(tmp_path / "d.csv", ROWS * 3)
    (tmp_path / "empty.csv").write_text("sentence,sentiment\n")
    with pytest.raises(UserError, match=r"tasks\[1\] is named 'news' like tasks\[0\]"):
        load_suite(suite_file(tmp_path, "- {name: news, kind: classification, path: d.csv, text: sentence, "
                                        "label: sentiment}\n- {name: news, kind: pair, path: d.csv}\n"))
    with pytest.raises(UserError, match=r"empty.csv: no rows \(task 'e'\)"):
        load_suite(suite_file(tmp_path, "- {name: e, kind: classification, path: empty.csv}\n"))


def test_datasets_folder_with_its_own_splits_and_the_hub_fallback(tmp_path, monkeypatch):
    import datasets

    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "sentiment": datasets.ClassLabel(names=["neg", "neu", "pos"])})
    def part(rows):
        return datasets.Dataset.from_dict({"sentence": [t for t, _ in rows], "sentiment": [y for _, y in rows]},
                                          features=features)
    numbered = [(f"{t} {i}", y) for i in range(3) for t, y in ROWS]
    datasets.DatasetDict({"train": part(numbered), "validation": part(ROWS[:3]), "test": part(ROWS)}).save_to_disk(
        str(tmp_path / "ds"))
    _, data = one(tmp_path, "- {name: ds, kind: classification, format: datasets, path: ds, text: sentence, "
                            "label: sentiment, hub: someone/tweets}\n")
    assert (len(data.train), len(data.dev), len(data.test["en"])) == (18, 3, 6)  # the folder's own splits
    assert data.labels == ("neg", "neu", "pos") and data.dev[0] == {"text": ROWS[0][0], "label": 2}
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # fail at once, never wait on the network
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match=r"hub data set 'someone/tweets' could not be loaded .*save_to_disk folder"):
        one(tmp_path, "- {name: ds, kind: classification, format: datasets, path: absent, hub: someone/tweets}\n")


def test_a_test_tag_unseen_in_train_is_an_error(tmp_path):
    (tmp_path / "train.txt").write_text("".join(f"aspirin B-Chem\nhelps O\n{i} O\n\n" for i in range(10)))
    (tmp_path / "test.txt").write_text("flu B-Disease\n")
    with pytest.raises(UserError, match=r"test.txt: sentence 1: unknown label 'B-Disease' in column 'tags' .*"
                                        r"labels found in train: O, B-Chem, I-Chem"):
        load_suite(suite_file(tmp_path, "- {name: n, kind: token, files: {train: train.txt, test: test.txt}, "
                                        "format: conll}\n"))


def test_declared_ncbi_disease_equals_the_builtin_loader(tmp_path, shared_data):
    """The real NCBI-disease files declared in YAML give what the medical domain's Python loader gives."""
    from domain_electra.registry import get_domain

    path = suite_file(tmp_path, "- {name: ncbi, kind: token, format: conll, files: {train: medical/ncbi-disease/"
                                "train.txt, dev: medical/ncbi-disease/dev.txt, test: medical/ncbi-disease/test.txt}}\n")
    declared = load_suite(path, data_dir=shared_data).tasks[0].task.load(shared_data)
    builtin = get_domain("medical").task("ncbi-disease").load(shared_data)
    assert (len(declared.train), len(declared.dev), len(declared.test["en"])) == (5424, 923, 940)
    assert declared.train == list(builtin.train) and declared.test == dict(builtin.test)
    assert declared.labels == builtin.labels == ("O", "B-Disease", "I-Disease")


def test_real_repeated_sentences_never_straddle_the_split(shared_data):
    """Unfair-ToS English sentences repeat across documents (13.7% of rows: boilerplate clauses); a per-row
    split would put some test texts in train, the stratified duplicate-aware split puts none."""
    from domain_electra.domains.legal import data as legal

    folder = shared_data / legal.UNFAIR_TOS
    rows = [r for d in legal.read_list(folder, "LIST_ALL.txt") for r in legal.read_document(folder, "en", d)]
    counts = collections.Counter(normalise(r["text"]) for r in rows)
    assert sum(v for v in counts.values() if v > 1) / len(rows) > 0.1  # the data really repeats texts
    parts = stratified_split(rows, dev=0.1, test=0.2, seed=0)
    texts = {s: {normalise(r["text"]) for r in parts[s]} for s in parts}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["dev"] and not texts["dev"] & texts["test"]
    assert abs(len(parts["test"]) / len(rows) - 0.2) < 0.01 and abs(len(parts["dev"]) / len(rows) - 0.1) < 0.01
