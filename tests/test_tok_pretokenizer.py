"""The tree-sitter code pre-tokenizer: identifier splitting, structure, spans, fallback, round trips."""
import glob
import json
import os
import sysconfig
from pathlib import Path

import pytest

from domain_electra.tokenization import code_pretokenizer as cp
from domain_electra.tokenization.code_pretokenizer import detokenize, normalize_code, pretokenize

STDLIB = Path(sysconfig.get_paths()["stdlib"])
DATA = Path(os.environ.get("DOMAIN_ELECTRA_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def words(text, language="python"):
    return pretokenize(text, language).words


@pytest.mark.parametrize("source, expected", [
    ("getUserById", ["get", "User", "By", "Id"]),
    ("get_user_by_id", ["get", "_user", "_by", "_id"]),
    ("HTTPServer", ["HTTP", "Server"]),
    ("parseHTTPResponse2xx", ["parse", "HTTP", "Response", "2", "xx"]),
    ("__init__", ["__init", "__"]),
    ("_private", ["_private"]),
    ("MAX_LEN2", ["MAX", "_LEN", "2"]),
    ("utf8", ["utf", "8"]),
    ("café_au_lait", ["café", "_au", "_lait"]),
])
def test_identifier_splitting(source, expected):
    pre = pretokenize(source + "\n", "python")
    assert pre.words[:-1] == expected
    # Only the first sub-word starts the word (whole-identifier masking); the rest are glued to it.
    assert pre.word_start[:-1] == [True] + [False] * (len(expected) - 1)
    assert detokenize(pre.words) == source + "\n"


def test_operators_numbers_and_spaces():
    got = words("x >>= 0x1F + 1.5e-3 ** y\n")
    # Operators stay whole inside the prefix of the next word; numbers are one word.
    assert got == ["x", "▁>>=▁0x1F", "▁+▁1.5e-3", "▁**▁y", "↵"]


def test_layout_and_punctuation_are_prefixes_of_the_next_word():
    got = words("def f(self, x):\n    return self.foo(x, y)\n")
    assert got == ["def", "▁f", "(self", ",▁x", "):↵⇢▁▁▁▁return", "▁self", ".foo", "(x", ",▁y", ")↵"]
    pre = pretokenize("a.b\n", "python")
    assert pre.words == ["a", ".b", "↵"] and pre.word_start == [True, True, True]


def test_strings_and_comments_use_natural_language_words():
    got = words("s = 'getUserById is camelCase'  # HTTPServer here\n")
    # Quotes and comment markers are prefixes; the words inside are not split at camelCase.
    assert got == ["s", "▁=▁'getUserById", "▁is", "▁camelCase", "'▁▁#▁HTTPServer", "▁here", "↵"]


def test_structure_tokens_for_lines_and_indentation():
    src = "def f(x):\n    if x:\n        return 1\n\n    return 2\n"
    got = words(src)
    # first indent spells out its width (the file's unit), later ones are bare; a dedent after a blank
    # line; the line break ending the file has no dedents
    assert got == ["def", "▁f", "(x", "):↵⇢▁▁▁▁if", "▁x", ":↵⇢return", "▁1", "↵↵⇠return", "▁2", "↵"]
    assert detokenize(got) == src


def test_tabs_and_odd_indentation_round_trip():
    src = "if a:\n\tif b:\n\t\t  c = 1\n\td\nelse:\n   e\n"
    assert detokenize(words(src)) == src


def test_normalisation_is_documented_behaviour():
    src = "a = 1   \r\nb\f= 2\t\n"
    assert normalize_code(src) == "a = 1\nb = 2\n"
    assert detokenize(words(src)) == normalize_code(src)
    assert normalize_code("x ▁ y") == "x   y"  # marker characters in the input become what they mean


def test_span_starts_cover_ast_units():
    pre = pretokenize("result = compute_total(items, tax_rate=0.2)\n", "python")
    # Spans: nodes of <= SPAN_BYTES ("result", "=", "compute_total", "(", "items", ",", "tax_rate=0.2",
    # ")"); a pre-token starts a span when one starts inside it; sub-word continuations never do.
    spans = [w for w, s in zip(pre.words, pre.span_start) if s]
    assert pre.words == ["result", "▁=▁compute", "_total", "(items", ",▁tax", "_rate", "=0.2", ")↵"]
    assert spans == ["result", "▁=▁compute", "(items", ",▁tax", ")↵"]
    assert not any(s and not ws for s, ws in zip(pre.span_start, pre.word_start))  # span => word start
    pre = pretokenize("if x:\n    y = 1\n", "python")
    assert all(s for w, s in zip(pre.words, pre.span_start) if "↵" in w)  # every line starts a span


def test_broken_code_is_partial_parse_not_a_crash():
    cp.STATS.clear()
    src = "def f(:\n    return )(\n'unterminated\n"
    pre = pretokenize(src, "python")
    assert detokenize(pre.words) == normalize_code(src)
    assert cp.STATS["partial_parse"] == 1


def test_unknown_language_falls_back_and_is_counted():
    cp.STATS.clear()
    src = "SELECT name FROM users WHERE id = 1;\n"
    pre = pretokenize(src, "sql")
    assert not pre.parsed and cp.STATS["fallback_unknown_language"] == 1
    assert detokenize(pre.words) == src
    assert pretokenize(src, None).parsed is False


def test_long_words_are_chunked_losslessly():
    src = "x = '" + "A" * 200 + "'\n"
    pre = pretokenize(src, "python")
    assert max(map(len, pre.words)) <= cp.MAX_WORD_CHARS
    assert detokenize(pre.words) == src


def _samples():
    """Real code per installed grammar (from this machine and ../shared/data), a few files each."""
    found = {"python": sorted(STDLIB.glob("*.py"))[:8],
             "c": sorted(Path("/usr/include").glob("*.h"))[:8],
             "cpp": sorted(Path("/usr/include/c++").glob("*/bits/*.h"))[:5],
             "go": sorted(glob.glob("/usr/share/doc/git/contrib/**/*.go", recursive=True))[:4],
             "javascript": sorted(glob.glob("/root/.rustup/toolchains/*/share/doc/rust/html/static.files/*.js"))[:3]
             + sorted(glob.glob("/usr/lib/node_modules/npm/lib/**/*.js", recursive=True))[:5],
             "php": sorted(glob.glob("/usr/lib/google-cloud-sdk/platform/google_appengine/php/sdk/**/*.php",
                                     recursive=True))[:5],
             "rust": sorted(glob.glob("/root/.rustup/toolchains/*/share/doc/rust/html/**/*.rs", recursive=True))[:3]}
    texts = {lang: [p.read_text(encoding="utf-8", errors="replace") if isinstance(p, Path)
                    else Path(p).read_text(encoding="utf-8", errors="replace") for p in paths]
             for lang, paths in found.items()}
    translation = DATA / "code" / "codexglue-java-cs-translation"
    for lang, suffix in (("java", "java"), ("csharp", "cs")):
        path = translation / f"valid.java-cs.txt.{suffix}"
        texts[lang] = [path.read_text(encoding="utf-8").splitlines()[:200]] if path.is_file() else []
        texts[lang] = ["\n".join(texts[lang][0])] if texts[lang] else []
    cloze = DATA / "code" / "codexglue-cloze-maxmin" / "ruby" / "clozeTest.json"
    texts["ruby"] = ([" ".join(item["pl_tokens"]).replace("<mask>", "max") + "\n"
                      for item in json.loads(cloze.read_text(encoding="utf-8"))[:50]] if cloze.is_file() else [])
    return texts


SAMPLES = _samples()


@pytest.mark.parametrize("language", cp.available_languages())
def test_round_trip_real_code_every_grammar(language):
    texts = SAMPLES.get(language) or []
    if not texts:
        pytest.skip(f"no real {language} code found on this machine or in ../shared/data")
    cp.STATS.clear()
    for text in texts:
        pre = pretokenize(text, language)
        assert detokenize(pre.words) == normalize_code(text)
        assert len(pre.words) == len(pre.word_start) == len(pre.span_start)
    # Real files parse (possibly partially: headers with macros); none fell back to plain text.
    assert cp.STATS["parsed"] + cp.STATS["partial_parse"] == len(texts)


def test_all_ten_grammars_installed():
    assert set(cp.available_languages()) == set(cp.GRAMMARS)


@pytest.mark.slow
def test_round_trip_whole_standard_library():
    files = [p for p in STDLIB.rglob("*.py") if "site-packages" not in p.parts]
    checked = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a few test fixtures are deliberately not UTF-8
        assert detokenize(pretokenize(text, "python").words) == normalize_code(text), path
        checked += 1
    assert checked > 1000


# --- the C path (_fastcode.c) must give exactly the Python path's pre-tokens ---

needs_c = pytest.mark.skipif(cp._fastcode is None, reason="C pre-tokenizer not built (see setup.py)")


def test_c_path_is_built_by_the_readme_install():
    # CI installs with the README's command; it must build the extension, or every speed figure is wrong.
    if not os.environ.get("CI"):
        pytest.skip("checked in CI, where the README install ran")
    assert cp._fastcode is not None


@needs_c
@pytest.mark.parametrize("language", cp.available_languages())
def test_c_path_equals_python_path_on_real_code(language):
    texts = SAMPLES.get(language) or []
    if not texts:
        pytest.skip(f"no real {language} code found on this machine or in ../shared/data")
    grammar = cp._grammar(language)
    for text in texts:
        text = normalize_code(text)
        assert cp._parsed_native(text, grammar) == cp._parsed_python(text, grammar)


@needs_c
def test_c_path_equals_python_path_on_random_text():
    # Seeded fuzz over the cases the lexers and the layout treat specially: identifiers, numbers with
    # exponents, underscores, non-ASCII letters and digits, tabs, odd indentation, quotes, broken code.
    import random

    rng = random.Random(7)
    alphabet = list("abcXYZ_09 \t\n\n.eE+-'\"#()[]{}:,=é中²٣") + [
        "  ", "    ", "\t\t", "HTTPServer", "getURLs", "1e-5", "0x1F", "1..2", "__init__", "'''", '"""', "\\", "//", "/*"]
    checked = 0
    for language in cp.available_languages():
        grammar = cp._grammar(language)
        for _ in range(150):
            text = normalize_code("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 160))))
            assert cp._parsed_native(text, grammar) == cp._parsed_python(text, grammar), (language, text)
            checked += 1
    assert checked == 150 * len(cp.available_languages())


@needs_c
def test_c_path_pinned_output():
    pre = pretokenize("class HTTPServer:\n    def getURLs(self, x2=1e-5):  # max_len\n        return 'a b'\n",
                      "python")
    # The file's first indentation is spelled out; "URLs" splits before its last capital like "HTTPServer";
    # comments keep natural-language words; a statement of <= SPAN_BYTES is one span.
    assert pre.words == ["class", "▁HTTP", "Server", ":↵⇢▁▁▁▁def", "▁get", "UR", "Ls", "(self", ",▁x", "2",
                         "=1e-5", "):▁▁#▁max_len", "↵⇢return", "▁'a", "▁b", "'↵"]
    assert pre.word_start == [True, True, False, True, True, False, False, True, True, False, True, True,
                              True, True, True, True]
    assert pre.span_start == [True, True, False, True, True, False, False, True, False, False, False, True,
                              True, False, False, True]


def test_grammar_failure_in_the_parsed_path_falls_back_and_is_counted(monkeypatch):
    # Fault injection: a grammar object the parser cannot use (a broken capsule for the C path, a broken
    # parser for the Python path) must give the plain pre-tokens, counted, never an exception.
    good = cp._grammar("python")
    broken = cp._Grammar(parser=None, region_ids=good.region_ids, capsule=None, region_mask=good.region_mask)
    monkeypatch.setattr(cp, "_grammar", lambda name: broken)
    cp.STATS.clear()
    src = "def f(x):\n    return x\n"
    pre = pretokenize(src, "python")
    assert not pre.parsed and cp.STATS["fallback_error"] == 1
    assert detokenize(pre.words) == src
