"""Eval tasks of the finance domain (their parsers: data.py beside this file)."""
from domain_electra.plugin_api import EvalTask
from . import data as data_finance

TASKS: tuple[EvalTask, ...] = (
    EvalTask(name="twitter-sentiment", kind="classification", metric="accuracy",
             description="Finance tweets: bearish / bullish / neutral",
             load=data_finance.load_twitter_sentiment, data_subdir=data_finance.TWITTER,
             source_url="https://github.com/umaima-aman/Twee_Sentiment_Analysis-DeepLearning"),
    EvalTask(name="multifin-highlevel", kind="classification", metric="accuracy",
             description="MultiFin headline topic (6 classes): train English, test each of 15 languages",
             load=data_finance.load_multifin, train_language="en",
             test_languages=tuple(data_finance.MULTIFIN_LANGUAGES.values()), data_subdir=data_finance.MULTIFIN,
             source_url="https://github.com/awinml/multifin"),
    EvalTask(name="multifin-lowlevel", kind="multilabel", metric="micro_f1",
             description="MultiFin headline topics (23 classes, multi-label): train English, test 15 languages",
             load=data_finance.load_multifin_low,
             train_language="en", test_languages=tuple(data_finance.MULTIFIN_LANGUAGES.values()),
             data_subdir=data_finance.MULTIFIN, source_url="https://github.com/awinml/multifin"),
)
