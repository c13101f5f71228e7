"""The code domain: source trees in, structure-aware tokens, AST-span masking, code benchmarks."""
from domain_electra.domain import Domain, MaskingPolicy, TokenizerRecipe

from .cleaners import make_cleaners
from .tasks import TASKS

DOMAIN = Domain(
    name="code",
    description="Source code in ten programming languages, parsed with tree-sitter; docstrings and comments kept.",
    languages=("python", "javascript", "java", "go", "c", "cpp", "csharp", "ruby", "php", "rust"),
    cleaners=make_cleaners,
    tokenizer=TokenizerRecipe(
        model="wordpiece",
        vocab_size=16_000,
        lowercase=False,
        pretokenizer="code",  # layout travels as ↵ ⇢ ⇠ characters inside tokens, not as extra special tokens
    ),
    masking=MaskingPolicy(mask_rate=0.15, whole_word=True, spans="ast"),
    eval_tasks=TASKS,
    examples=(
        "def get_user_by_id(user_id: int) -> User:\n    \"\"\"Return the user with this id.\"\"\"\n    return db.users[user_id]\n",
        "public int maxValue(int[] values) { return Arrays.stream(values).max().getAsInt(); }\n",
    ),
    file_extensions=(".py", ".js", ".mjs", ".java", ".go", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".rb",
                     ".php", ".rs"),
)
