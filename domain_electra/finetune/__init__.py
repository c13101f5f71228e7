"""LoRA (peft) and full fine-tuning for every task kind, with one explicit loop."""
from .config import FinetuneConfig
from .models import check_model_dir, load_finetuned, merge_adapter
from .train import evaluate, finetune, predict, resolve_task

__all__ = ["FinetuneConfig", "finetune", "evaluate", "predict", "load_finetuned", "merge_adapter",
           "check_model_dir", "resolve_task"]
