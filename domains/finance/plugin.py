"""The finance domain: filings, central-bank communication, financial news."""
from domain_electra.domain import Domain, MaskingPolicy, TokenizerRecipe

from .cleaners import make_cleaners
from .tasks import TASKS

DOMAIN = Domain(
    name="finance",
    description="Filings, central-bank minutes and financial news; boilerplate disclaimers removed.",
    languages=("en", "da", "de", "el", "es", "fi", "he", "hu", "is", "it", "ja", "no", "pl", "ru", "sv", "tr"),
    cleaners=make_cleaners,
    tokenizer=TokenizerRecipe(model="wordpiece", vocab_size=16_000, lowercase=True, pretokenizer="bert",
                              extension="extend", max_new_tokens=2_000),
    masking=MaskingPolicy(mask_rate=0.15, whole_word=True),
    eval_tasks=TASKS,
    examples=(
        "EBITDA rose 12% year over year to $4.3 billion, beating consensus estimates.",
        "The Committee decided to maintain the target range for the federal funds rate at 5-1/4 to 5-1/2 percent.",
    ),
    file_extensions=(".txt", ".md", ".html", ".htm", ".jsonl", ".json", ".csv", ".tsv", ".parquet"),
)
