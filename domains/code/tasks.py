"""Eval tasks of the code domain (their parsers: data.py beside this file)."""
from domain_electra.plugin_api import EvalTask
from domain_electra.evaluation import stdlib_tasks

from . import data as data_code

CODEXGLUE = "https://github.com/microsoft/CodeXGLUE"

TASKS: tuple[EvalTask, ...] = (
    EvalTask(name="stdlib-docstring-retrieval", kind="retrieval", metric="mrr@10",
             description="Docstring -> function retrieval from the local Python standard library (split by module)",
             load=stdlib_tasks.load_docstring_retrieval, train_language="python", test_languages=("python",),
             source_url="the local Python standard library (sysconfig 'stdlib' path)"),
    EvalTask(name="stdlib-cloze-maxmin", kind="cloze", metric="accuracy",
             description="Zero-shot max/min cloze on stdlib functions (the ClozeTest-maxmin recipe, gold known)",
             load=stdlib_tasks.load_stdlib_cloze_maxmin, train_language="python", test_languages=("python",),
             source_url="the local Python standard library"),
    EvalTask(name="cosqa", kind="pair", metric="accuracy",
             description="CoSQA: does this Python function answer the web query? (binary)",
             load=data_code.load_cosqa, train_language="python", test_languages=("python",),
             data_subdir=data_code.COSQA, source_url=CODEXGLUE),
    EvalTask(name="java-cs-retrieval", kind="retrieval", metric="mrr@10",
             description="Java function -> its C# translation among all test C# functions (MRR@10)",
             load=data_code.load_java_cs_retrieval, train_language="java", test_languages=("csharp",),
             data_subdir=data_code.JAVA_CS, source_url=CODEXGLUE,
             sanity_check=True),  # MiniLM and e5-small both 0.995 (translations share identifiers): a check
    EvalTask(name="codexglue-cloze-maxmin", kind="cloze", metric="accuracy",
             description="CodeXGLUE ClozeTest-maxmin per programming language (zero-shot; needs its answers files)",
             load=data_code.load_cloze_maxmin, train_language="python", test_languages=data_code.CLOZE_LANGUAGES,
             data_subdir=data_code.CLOZE, source_url=CODEXGLUE),
)
