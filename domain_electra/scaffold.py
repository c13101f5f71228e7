"""`domain-electra domains new NAME`: write a complete, installable domain plugin package.

The package has the same files as the built-in domains (plugin.py, cleaners.py, tasks.py), an entry
point in `domain_electra.domains`, one example cleaner, a tokenizer recipe, one eval task over a small
labelled file it writes (outside the package, read from --data-dir like every built-in task), and
a test that runs the conformance check.
"""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from .errors import UserError

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")

# A tiny labelled set (is the sentence domain-specific jargon or everyday language?) so the scaffolded
# eval task runs end to end before the author brings real data.
_EXAMPLES = [
    ("The claims define the scope of protection conferred by the patent.", 1),
    ("A prior-art search revealed two earlier filings with overlapping claims.", 1),
    ("The applicant amended claim 3 to overcome the examiner's novelty objection.", 1),
    ("An inventive step is not obvious to a person skilled in the art.", 1),
    ("The priority date is the filing date of the earliest application.", 1),
    ("A continuation application shares the specification of its parent.", 1),
    ("Dependent claims refer back to an independent claim.", 1),
    ("The examiner issued a final rejection under section 103.", 1),
    ("Let's meet for coffee after lunch tomorrow.", 0),
    ("The weather was lovely, so we walked to the park.", 0),
    ("She bought fresh bread and a bunch of tulips.", 0),
    ("Our train was late again this morning.", 0),
    ("He forgot his umbrella at the cinema.", 0),
    ("The kids built a sandcastle on the beach.", 0),
    ("I need to call my sister this weekend.", 0),
    ("The soup needs a little more salt.", 0),
]

_PLUGIN = '''\
"""The {name} domain plugin for domain-electra."""
from domain_electra.domain import Domain, MaskingPolicy, TokenizerRecipe

from .cleaners import make_cleaners
from .tasks import TASKS

DOMAIN = Domain(
    name="{name}",
    description="{title} text (describe your corpus here).",
    languages=("en",),
    cleaners=make_cleaners,
    tokenizer=TokenizerRecipe(model="wordpiece", vocab_size=16_000, lowercase=True, pretokenizer="bert",
                              extension="extend", max_new_tokens=2_000),
    masking=MaskingPolicy(mask_rate=0.15, whole_word=True),
    eval_tasks=TASKS,
    examples=(
        "Write two or three typical sentences of your domain here; tests and smoke runs use them.",
        "The claims define the scope of protection conferred by the patent.",
    ),
    file_extensions=(".txt", ".md", ".jsonl", ".csv"),
)
'''

_CLEANERS = '''\
"""Corpus cleaners of the {name} domain: each step keeps a document (maybe edited) or names a drop reason."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from domain_electra.domain import Document, Step

_BOILERPLATE = re.compile(r"^(page \\d+ of \\d+|confidential)$", re.IGNORECASE | re.MULTILINE)


def drop_boilerplate_lines(doc: Document) -> Document | str:
    """Remove page furniture lines; drop the document if nothing else is left."""
    text = _BOILERPLATE.sub("", doc.text).strip()
    return doc.with_text(text) if text else "only_boilerplate"


def make_cleaners(options: Mapping[str, Any]) -> Sequence[Step]:
    steps: list[Step] = []
    if options.get("drop_boilerplate", True):
        steps.append(drop_boilerplate_lines)
    return steps
'''

_TASKS = '''\
"""Eval tasks of the {name} domain. Replace the example data set with your real one."""
from __future__ import annotations

from domain_electra.plugin_api import EvalTask, TaskData, dataset_dir, read_jsonl, source_license, stratified_split

JARGON = "{name}/jargon"  # the data set's folder under --data-dir (here: example-data/ of this project)
LABELS = ("everyday", "jargon")


def load_jargon(data_dir=None) -> TaskData:
    """Sentence classification: is it {name} jargon (1) or everyday language (0)? One file, split here:
    stratified by label, identical sentences kept on one side, the same split on every machine."""
    folder = dataset_dir(data_dir, JARGON, ("jargon.jsonl",), "example-data/ of the plugin project")
    rows = [{{"text": r["text"], "label": int(r["label"])}} for r in read_jsonl(folder / "jargon.jsonl")]
    split = stratified_split(rows, dev=0.125, test=0.25, seed=0)
    return TaskData(train=split["train"], dev=split["dev"], test={{"en": split["test"]}},
                    labels=LABELS, license=source_license(folder))


TASKS = (
    EvalTask(name="jargon", kind="classification", description="jargon vs everyday sentences",
             load=load_jargon, metric="accuracy", train_language="en", test_languages=("en",),
             data_subdir=JARGON, source_url="example-data/ of the plugin project"),
)
'''

_TEST = '''\
from pathlib import Path

from domain_electra.conformance import check_domain
from domain_electra.domain import Document

from {package} import DOMAIN

DATA_DIR = Path(__file__).resolve().parent.parent / "example-data"  # what --data-dir names for a real run


def test_plugin_conforms():
    assert check_domain(DOMAIN) == []


def test_cleaner_drops_boilerplate_only_documents():
    steps = DOMAIN.cleaners({{}})
    assert steps[0](Document(text="Page 1 of 9\\nCONFIDENTIAL", source="x")) == "only_boilerplate"


def test_task_loads_all_splits():
    data = DOMAIN.task("jargon").load(DATA_DIR)
    assert len(data.train) and len(data.dev) and len(data.test["en"])
    assert not {{r["text"] for r in data.train}} & {{r["text"] for r in data.test["en"]}}
'''


def scaffold_domain(name: str, parent: str | Path = ".") -> Path:
    """Write the plugin project `<parent>/domain-electra-<name>/` and return its path."""
    if not _NAME.match(name):
        raise UserError(f"domain name {name!r} must be 2-41 lowercase letters, digits or '_', starting with a letter")
    package = f"domain_electra_{name}"
    root = Path(parent).expanduser() / f"domain-electra-{name.replace('_', '-')}"
    if root.exists() and any(root.iterdir()):
        raise UserError(f"{root} already exists and is not empty; choose another --dir or remove it")
    pkg = root / package
    data = root / "example-data" / name / "jargon"  # outside the package: data is never installed with code
    pkg.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    title = name.replace("_", " ").capitalize()
    files = {
        root / "pyproject.toml": _pyproject(name, package),
        root / "README.md": _readme(name, package),
        pkg / "__init__.py": 'from .plugin import DOMAIN\n\n__all__ = ["DOMAIN"]\n',
        pkg / "plugin.py": _PLUGIN.format(name=name, title=title),
        pkg / "cleaners.py": _CLEANERS.format(name=name),
        pkg / "tasks.py": _TASKS.format(name=name),
        root / "tests" / "test_plugin.py": _TEST.format(package=package),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    rows = [{"text": t, "label": y} for t, y in _EXAMPLES]
    (data / "jargon.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (data / "SOURCE.txt").write_text("Written by `domain-electra domains new` as an example.\nLicense: CC0-1.0\n",
                                     encoding="utf-8")
    return root


def _pyproject(name: str, package: str) -> str:
    return textwrap.dedent(f'''\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "domain-electra-{name.replace('_', '-')}"
        version = "0.1.0"
        description = "The {name} domain plugin for domain-electra"
        requires-python = ">=3.11"
        dependencies = ["domain-electra"]

        [project.entry-points."domain_electra.domains"]
        {name} = "{package}:DOMAIN"

        [tool.setuptools]
        packages = ["{package}"]
        ''')


def _readme(name: str, package: str) -> str:
    return textwrap.dedent(f'''\
        # domain-electra-{name}

        A domain plugin for domain-electra. Edit `{package}/plugin.py` (description, languages, tokenizer
        recipe, masking), `cleaners.py` (corpus steps: return the document or a drop reason) and `tasks.py`
        (eval tasks, built on `domain_electra.plugin_api`). Task data is read from `--data-dir`, like the
        built-in domains' (the example: `example-data/{name}/jargon/`; replace it with your real data set).

            domain-electra domains show .          # load it by path
            pip install -e .                        # register it: `domain-electra domains list` shows it
            pytest tests                            # the conformance check and your own tests
            domain-electra finetune --domain {name} --task jargon --data-dir example-data --model ... --out ...
        ''')
