"""Data-set parsers: counts match each SOURCE.txt; the stdlib task's split; broken files give one line."""
from __future__ import annotations

import ast
import collections
import shutil

import pytest

from domain_electra.errors import UserError
from domain_electra.domains.code import data as data_code
from domain_electra.domains.finance import data as data_finance
from domain_electra.domains.legal import data as data_legal
from domain_electra.domains.medical import data as data_medical
from domain_electra.evaluation import stdlib_tasks


def test_multifin_matches_source(shared_data):
    data = data_finance.load_multifin(shared_data)
    assert (len(data.train), len(data.dev)) == (1747, 437)
    counts = {lang: len(rows) for lang, rows in data.test.items()}
    assert len(counts) == 15 and sum(counts.values()) == 2010
    assert (counts["en"], counts["tr"], counts["da"], counts["es"], counts["pl"]) == (546, 449, 279, 230, 170)
    assert len(data.labels) == 6 and data.labels[0] == "Business & Management"
    low = data_finance.load_multifin_low(shared_data)
    assert len(low.labels) == 23 and all(isinstance(r["label"], list) for r in low.test["en"])


def test_twitter_sentiment_matches_source(shared_data):
    data = data_finance.load_twitter_sentiment(shared_data)
    assert len(data.train) + len(data.dev) == 9543 and len(data.test["en"]) == 2388
    assert collections.Counter(r["label"] for r in data.test["en"]) == {0: 347, 1: 475, 2: 1566}
    assert not {r["text"] for r in data.train} & {r["text"] for r in data.dev}


def test_unfair_tos_matches_source_and_folds_are_disjoint(shared_data):
    totals = {"en": (17383, 1651), "de": (15888, 1597), "it": (16579, 1664), "pl": (18873, 1687)}
    folder = shared_data / data_legal.UNFAIR_TOS
    docs = data_legal.read_list(folder, "LIST_ALL.txt")
    for lang, (sentences, tagged) in totals.items():
        rows = [r for d in docs for r in data_legal.read_document(folder, lang, d)]
        assert (len(rows), sum(r["tagged"] for r in rows)) == (sentences, tagged)
    data = data_legal.load_unfair_tos(shared_data, fold=0)
    train_docs = {r["source_file"] for r in data.train} | {r["source_file"] for r in data.dev}
    assert not train_docs & {r["source_file"] for r in data.test["de"]}
    assert set(data.test) == {"en", "de", "it", "pl"} and len(data.labels) == 9


def test_medical_sets_match_source(shared_data):
    ncbi = data_medical.load_ncbi_disease(shared_data)
    assert (len(ncbi.train), len(ncbi.dev), len(ncbi.test["en"])) == (5424, 923, 940)
    pqa = data_medical.load_pubmedqa(shared_data)
    assert len(pqa.train) + len(pqa.dev) + len(pqa.test["en"]) == 1000 and len(pqa.test["en"]) == 500
    medquad = data_medical.read_medquad(shared_data / data_medical.MEDQUAD)
    qtypes = collections.Counter(r["qtype"] for r in medquad)
    assert len(medquad) == 5588 and len(qtypes) == 16 and qtypes["information"] == 2060
    docs = data_medical.read_mantra(shared_data / data_medical.MANTRA / "Mantra-GSC-brat.zip")
    assert {k: len(v) for k, v in docs.items()} == {"en": 550, "de": 250, "fr": 250, "es": 200, "nl": 200}
    assert {k: sum(d["mentions"] for d in v) for k, v in docs.items()} == \
        {"en": 1963, "de": 1082, "fr": 1052, "es": 756, "nl": 677}


def test_code_sets_match_source(shared_data):
    assert data_code.count_cloze(shared_data) == {"go": 152, "java": 482, "javascript": 272, "php": 407,
                                                   "python": 1264, "ruby": 38}
    folder = shared_data / data_code.COSQA
    dev = data_code.read_cosqa(folder / "cosqa-dev.json")
    assert len(dev) == 604 and sum(r["label"] for r in dev) == 313
    assert len(data_code.read_cosqa(folder / "test_webquery.json", labelled=False)) == 1046
    cosqa = data_code.load_cosqa(shared_data)
    assert not {r["text"] for r in cosqa.train} & {r["text"] for r in cosqa.test["python"]}
    jcs = data_code.load_java_cs_retrieval(shared_data)
    assert (len(jcs.train), len(jcs.dev), len(jcs.test["csharp"])) == (10295, 499, 1000)


def test_cloze_without_answers_says_where_to_get_them(shared_data):
    with pytest.raises(UserError, match="answers"):
        data_code.load_cloze_maxmin(shared_data)


def test_missing_data_set_names_it_and_its_source(tmp_path):
    with pytest.raises(UserError, match="crosslingual/multifin.*awinml/multifin"):
        data_finance.load_multifin(tmp_path)


def test_env_variable_locates_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAIN_ELECTRA_DATA", str(tmp_path))
    with pytest.raises(UserError, match=str(tmp_path)):
        data_medical.load_ncbi_disease()


def test_wrong_format_is_a_one_line_error(tmp_path, shared_data):
    folder = tmp_path / data_finance.TWITTER
    folder.mkdir(parents=True)
    (folder / "sent_train.csv").write_text("tweet;sentiment\nhello;1\n")
    (folder / "sent_valid.csv").write_text("text,label\nhello,1\n")
    with pytest.raises(UserError, match="sent_train.csv.*header"):
        data_finance.load_twitter_sentiment(tmp_path)
    multifin = tmp_path / data_finance.MULTIFIN
    shutil.copytree(shared_data / data_finance.MULTIFIN, multifin)
    (multifin / "fixed-test-highlevel" / "test.json").chmod(0o644)
    (multifin / "fixed-test-highlevel" / "test.json").write_text('{"text": "x", "label": "Finance"}\nnot json\n')
    with pytest.raises(UserError, match="line 2 is not JSON"):
        data_finance.load_multifin(tmp_path)
    ncbi = tmp_path / data_medical.NCBI
    ncbi.mkdir(parents=True)
    for name in ("train.txt", "dev.txt", "test.txt"):
        (ncbi / name).write_text("Cancer\tNN\tO\tDISEASE\n")
    with pytest.raises(UserError, match="BIO"):
        data_medical.load_ncbi_disease(tmp_path)


def test_stdlib_retrieval_is_split_by_module_and_deterministic():
    data = stdlib_tasks.load_docstring_retrieval()
    modules = {name: {r["module"] for r in rows} for name, rows in
               (("train", data.train), ("dev", data.dev), ("test", data.test["python"]))}
    assert not modules["train"] & modules["test"] and not modules["train"] & modules["dev"]
    assert not modules["dev"] & modules["test"]
    assert len(data.train) > 1000 and len(data.test["python"]) > 300
    queries = [r["query"] for r in data.train]
    assert len(queries) == len(set(queries))
    for row in data.train[:300]:  # the docstring (the answer) is cut out of the document
        node = ast.parse(row["document"]).body[0]
        assert ast.get_docstring(node) is None


def test_stdlib_retrieval_on_a_fixed_tree(tmp_path):
    for module, body in {"alpha": "def f(x):\n    \"\"\"Return the square of a number given.\"\"\"\n    return x * x\n",
                         "beta": "def g(s):\n    '''Split a comma separated string into parts.'''\n    return s.split(',')\n"
                                 "\ndef h():\n    '''Only a docstring here, nothing else.'''\n"}.items():
        (tmp_path / f"{module}.py").write_text(body)
    data = stdlib_tasks.load_docstring_retrieval(stdlib=str(tmp_path))
    rows = data.train + data.dev + data.test["python"]
    assert [(r["id"], r["query"], r["document"]) for r in sorted(rows, key=lambda r: r["id"])] == [
        ("alpha.f", "Return the square of a number given.", "def f(x):\n    return x * x"),
        ("beta.g", "Split a comma separated string into parts.", "def g(s):\n    return s.split(',')")]
    assert {stdlib_tasks.split_of("alpha"), stdlib_tasks.split_of("beta")} <= {"train", "dev", "test"}


def test_stdlib_cloze_masks_a_max_or_min_call():
    data = stdlib_tasks.load_stdlib_cloze_maxmin()
    rows = data.test["python"]
    assert len(rows) > 30 and all(r["text"].count("<mask>") == 1 and r["answer"] in ("max", "min") for r in rows)
