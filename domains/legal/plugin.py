"""The legal domain: contracts, terms of service, licences and court decisions."""
from domain_electra.domain import Domain, MaskingPolicy, TokenizerRecipe

from .cleaners import make_cleaners
from .tasks import TASKS

DOMAIN = Domain(
    name="legal",
    description="Contracts, terms of service, licences and court decisions; page furniture removed, hyphenation repaired.",
    languages=("en", "de", "it", "pl"),
    cleaners=make_cleaners,
    tokenizer=TokenizerRecipe(model="wordpiece", vocab_size=16_000, lowercase=True, pretokenizer="bert",
                              extension="extend", max_new_tokens=2_000),
    masking=MaskingPolicy(mask_rate=0.15, whole_word=True),
    eval_tasks=TASKS,
    examples=(
        "The Licensee shall indemnify and hold harmless the Licensor from any claim arising under Section 4.2(b).",
        "We may terminate your account at any time, for any reason, without notice or liability.",
    ),
    file_extensions=(".txt", ".md", ".html", ".htm", ".jsonl", ".json", ".csv", ".tsv", ".parquet"),
)
