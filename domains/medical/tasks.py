"""Eval tasks of the medical domain (their parsers: data.py beside this file)."""
from domain_electra.plugin_api import EvalTask
from . import data as M

TASKS: tuple[EvalTask, ...] = (
    EvalTask(name="ncbi-disease", kind="token", metric="f1", description="Disease mentions (BIO), entity-level F1",
             load=M.load_ncbi_disease, data_subdir=M.NCBI, source_url="https://github.com/allenai/scibert"),
    EvalTask(name="pubmedqa", kind="pair", metric="accuracy",
             description="PubMedQA PQA-L: question + abstract -> yes / no / maybe",
             load=M.load_pubmedqa, data_subdir=M.PUBMEDQA, source_url="https://github.com/pubmedqa/pubmedqa"),
    EvalTask(name="medquad-qtype", kind="classification", metric="accuracy",
             description="MedQuAD question type (16 classes), split by source document",
             load=M.load_medquad, data_subdir=M.MEDQUAD, source_url="https://github.com/abachaa/MedQuAD",
             sanity_check=True),  # MiniLM 0.992 and e5-small alike: a check that fine-tuning works, not a comparison
    EvalTask(name="mantra-ner", kind="token", metric="f1",
             description="Mantra GSC concept mentions as NER (UMLS semantic groups): train en, test de/fr/es/nl",
             load=M.load_mantra, train_language="en", test_languages=tuple(M.MANTRA_LANGUAGES.values()),
             data_subdir=M.MANTRA, source_url="https://github.com/mi-erasmusmc/Mantra-Gold-Standard-Corpus"),
)
