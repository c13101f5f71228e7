"""The medical domain: clinical and biomedical text, de-identified by default."""
from domain_electra.domain import Domain, MaskingPolicy, TokenizerRecipe

from .cleaners import make_cleaners
from .tasks import TASKS

DOMAIN = Domain(
    name="medical",
    description="Clinical notes and biomedical literature; protected health information replaced by typed placeholders.",
    languages=("en", "de", "fr", "es", "nl"),
    cleaners=make_cleaners,
    tokenizer=TokenizerRecipe(
        model="wordpiece", vocab_size=16_000, lowercase=True, pretokenizer="bert", extension="extend",
        max_new_tokens=2_000,
        extra_tokens=("[NAME]", "[DATE]", "[AGE]", "[PHONE]", "[EMAIL]", "[ID]", "[ADDRESS]", "[LOCATION]", "[URL]",
                      "[IP]"),
    ),
    masking=MaskingPolicy(mask_rate=0.15, whole_word=True),
    eval_tasks=TASKS,
    examples=(
        "Acetaminophen overdose is the leading cause of acute liver failure; N-acetylcysteine is the antidote.",
        "Patient [NAME] was admitted on [DATE] with dyspnea and bilateral pulmonary infiltrates.",
    ),
    file_extensions=(".txt", ".md", ".html", ".htm", ".xml", ".jsonl", ".json", ".csv", ".tsv", ".parquet"),
)
