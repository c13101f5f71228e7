/* The code pre-tokenizer of code_pretokenizer.py, after `normalize_code`, in one C pass.
 *
 * Why: tree-sitter parses Python at ~7 MB/s; the walk, layout, lexing and flags cost as much again in
 * Python (~3 MB/s in all), and the target is 5 MB/s per core. This file does exactly what
 * code_pretokenizer.py's Python path does (that path is the reference and the fallback; the tests
 * compare both on the standard library and on random text): parse, walk to string/comment regions and
 * span starts, layout markers, the CODE_PATTERN / TEXT_PATTERN lexers, word/span flags and the
 * cutting of over-long pre-tokens. Character classes are CPython's own (`\w` of `re` is
 * Py_UNICODE_ISALNUM or "_", `\d` is Py_UNICODE_ISDECIMAL), so Unicode text is split the same way.
 *
 * It links tree-sitter's runtime (built from the tree-sitter sdist by setup.py) and takes the
 * grammar as the PyCapsule the grammar wheels return, so any installed grammar works.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "tree_sitter/api.h"

#define SPACE 0x2581   /* ▁ */
#define TAB 0x2409     /* ␉ */
#define NEWLINE 0x21B5 /* ↵ */
#define INDENT 0x21E2  /* ⇢ */
#define DEDENT 0x21E0  /* ⇠ */

/* ---------- growable arrays ---------- */

/* Doubles *cap (from `first`) and reallocates v; NULL with MemoryError set on failure. */
static void *grow(void *v, Py_ssize_t *cap, Py_ssize_t first, size_t item) {
    Py_ssize_t bigger = *cap ? 2 * *cap : first;
    void *moved = PyMem_Realloc(v, (size_t)bigger * item);
    if (!moved) {
        PyErr_NoMemory();
        return NULL;
    }
    *cap = bigger;
    return moved;
}

typedef struct {
    Py_ssize_t *v;
    Py_ssize_t n, cap;
} Ints;

static int ints_push(Ints *a, Py_ssize_t x) {
    if (a->n == a->cap) {
        Py_ssize_t *v = grow(a->v, &a->cap, 1024, sizeof *v);
        if (!v) return -1;
        a->v = v;
    }
    a->v[a->n++] = x;
    return 0;
}

typedef struct {
    Py_UCS4 *v;
    Py_ssize_t n, cap;
} Chars;

static int chars_push(Chars *a, Py_UCS4 c) {
    if (a->n == a->cap) {
        Py_UCS4 *v = grow(a->v, &a->cap, 4096, sizeof *v);
        if (!v) return -1;
        a->v = v;
    }
    a->v[a->n++] = c;
    return 0;
}

/* ---------- character classes of Python's `re` on str ---------- */

static unsigned char ascii_class[128]; /* bit 1: \w, bit 2: \d */

static void init_classes(void) {
    for (int c = 0; c < 128; c++) {
        ascii_class[c] = (unsigned char)((Py_UNICODE_ISALNUM(c) || c == '_') | (Py_UNICODE_ISDECIMAL(c) << 1));
    }
}

static inline int is_word(Py_UCS4 c) {
    return c < 128 ? ascii_class[c] & 1 : (c == '_' || Py_UNICODE_ISALNUM(c));
}

static inline int is_digit(Py_UCS4 c) {
    return c < 128 ? (ascii_class[c] >> 1) & 1 : Py_UNICODE_ISDECIMAL(c);
}

static inline int is_upper(Py_UCS4 c) { return c >= 'A' && c <= 'Z'; }

/* [^\W\dA-Z_]: a word character that is not a digit, an ASCII capital or "_" */
static inline int is_lower(Py_UCS4 c) { return is_word(c) && !is_digit(c) && !is_upper(c) && c != '_'; }

/* ---------- the two lexers (code_pretokenizer.CODE_PATTERN / TEXT_PATTERN) ---------- */

/* `_*(?:[A-Z]+(?=[A-Z]LOWER)|[A-Z]?LOWER+|[A-Z]+)` after the underscores, at u; -1 if no match. */
static Py_ssize_t ident_rest(const Py_UCS4 *s, Py_ssize_t u, Py_ssize_t end) {
    if (u >= end) return -1;
    if (is_upper(s[u])) {
        Py_ssize_t k = u;
        while (k < end && is_upper(s[k])) k++;
        if (k - u >= 2 && k < end && is_lower(s[k])) return k - 1; /* "HTTPServer" -> "HTTP" */
        if (u + 1 < end && is_lower(s[u + 1])) {                    /* "Server" */
            Py_ssize_t r = u + 1;
            while (r < end && is_lower(s[r])) r++;
            return r;
        }
        return k; /* "HTTP" */
    }
    if (is_lower(s[u])) {
        Py_ssize_t r = u;
        while (r < end && is_lower(s[r])) r++;
        return r;
    }
    return -1;
}

/* End of the CODE_PATTERN match at p (p < end): `\W*+(?:IDENT|NUMBER|\d+)|\W++`. The lookbehind of
 * NUMBER sees the character before the segment, as `re` does with findall(text, pos, endpos); the
 * lookaheads stop at the segment end, as with endpos. */
static Py_ssize_t code_token(const Py_UCS4 *s, Py_ssize_t p, Py_ssize_t end) {
    Py_ssize_t w = p;
    while (w < end && !is_word(s[w])) w++;
    if (w == end) return w;
    Py_ssize_t u = w;
    while (u < end && s[u] == '_') u++;
    Py_ssize_t r = ident_rest(s, u, end);
    if (r >= 0) return r;
    if (u > w) return u; /* "_+" */
    /* s[w] is a decimal digit here: every other word character starts an identifier. */
    r = w + 1;
    if (w == 0 || !is_word(s[w - 1])) { /* NUMBER: (?<!\w)\d\w*(?:\.(?!\.)\w*)?(?:(?<=[eE])[+-]\d\w*)? */
        while (r < end && is_word(s[r])) r++;
        if (r < end && s[r] == '.' && !(r + 1 < end && s[r + 1] == '.')) {
            r++;
            while (r < end && is_word(s[r])) r++;
        }
        if ((s[r - 1] == 'e' || s[r - 1] == 'E') && r + 1 < end && (s[r] == '+' || s[r] == '-') &&
            is_digit(s[r + 1])) {
            r += 2;
            while (r < end && is_word(s[r])) r++;
        }
        return r;
    }
    while (r < end && is_digit(s[r])) r++; /* \d+ */
    return r;
}

/* End of the TEXT_PATTERN match at p: `\W*+\w++|\W++`. */
static Py_ssize_t text_token(const Py_UCS4 *s, Py_ssize_t p, Py_ssize_t end) {
    while (p < end && !is_word(s[p])) p++;
    while (p < end && is_word(s[p])) p++;
    return p;
}

/* Token boundaries of s[start:end) appended to `ends` (tokens are contiguous: each starts where the
 * previous ended). A token that is only a prefix (ends in a non-word character) joins the segment's
 * first token, as `_lex` does. Returns the index of the segment's first token, -1 on error. */
static Py_ssize_t lex(const Py_UCS4 *s, Py_ssize_t start, Py_ssize_t end, int code, Ints *ends) {
    if (start >= end) return ends->n;
    if (ends->n > 0 && !is_word(s[start - 1])) ends->n--; /* the prefix joins this token */
    Py_ssize_t first = ends->n;
    for (Py_ssize_t p = start; p < end;) {
        p = code ? code_token(s, p, end) : text_token(s, p, end);
        if (ints_push(ends, p) < 0) return -1;
    }
    return first;
}

/* ---------- layout: spaces, tabs, line breaks and indentation as marker characters ---------- */

typedef struct {
    Py_ssize_t start, len; /* an indentation: text[start:start+len], spaces and tabs */
} Indent;

static int same_chars(int kind, const void *data, Py_ssize_t a, Py_ssize_t b, Py_ssize_t len) {
    for (Py_ssize_t i = 0; i < len; i++)
        if (PyUnicode_READ(kind, data, a + i) != PyUnicode_READ(kind, data, b + i)) return 0;
    return 1;
}

static Py_UCS4 marker(Py_UCS4 c) { return c == ' ' ? SPACE : c == '\t' ? TAB : c; }

typedef struct {
    Chars marked;    /* the text with markers */
    Py_ssize_t *map; /* text position -> marked position (n + 1 entries) */
    Ints line_starts; /* marked position of every line-break run: each starts a span */
} Layout;

/* `_layout` plus the `to_marked` position map of pretokenize(), in one pass. */
static int layout(PyObject *text, Layout *out) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Indent *stack = NULL;
    Py_ssize_t depth = 1, stack_cap = 64;
    int have_unit = 0, ok = -1;
    Indent unit = {0, 0}, top = {0, 0};
    out->map = PyMem_Malloc((size_t)(n + 1) * sizeof(Py_ssize_t));
    stack = PyMem_Malloc((size_t)stack_cap * sizeof(Indent));
    if (!out->map || !stack) {
        PyErr_NoMemory();
        goto done;
    }
    stack[0] = (Indent){0, 0};
    Py_ssize_t pos = 0;
    for (;;) {
        Py_ssize_t i = pos;
        for (; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (c == '\n') break;
            out->map[i] = out->marked.n;
            if (chars_push(&out->marked, marker(c)) < 0) goto done;
        }
        if (i == n) break;
        Py_ssize_t run_start = out->marked.n;
        if (ints_push(&out->line_starts, run_start) < 0) goto done;
        for (; i < n && PyUnicode_READ(kind, data, i) == '\n'; i++) {
            out->map[i] = run_start;
            if (chars_push(&out->marked, NEWLINE) < 0) goto done;
        }
        Py_ssize_t k = i;
        while (k < n) {
            Py_UCS4 c = PyUnicode_READ(kind, data, k);
            if (c != ' ' && c != '\t') break;
            k++;
        }
        Py_ssize_t indent_start = out->marked.n;
        for (Py_ssize_t j = i; j < k; j++) out->map[j] = indent_start;
        Indent indent = {i, k - i};
        /* The indentation of a line break that ends the file is left without dedents. */
        if (k < n && !(indent.len == top.len && same_chars(kind, data, indent.start, top.start, top.len))) {
            Py_ssize_t pops = 0;
            while (!(stack[depth - 1].len <= indent.len &&
                     same_chars(kind, data, indent.start, stack[depth - 1].start, stack[depth - 1].len))) {
                depth--;
                pops++;
            }
            for (Py_ssize_t j = 0; j < pops; j++)
                if (chars_push(&out->marked, DEDENT) < 0) goto done;
            Indent below = stack[depth - 1];
            if (indent.len != below.len) { /* a prefix of different length: a new level */
                Indent delta = {indent.start + below.len, indent.len - below.len};
                if (depth == stack_cap) {
                    Indent *bigger = grow(stack, &stack_cap, 64, sizeof(Indent));
                    if (!bigger) goto done;
                    stack = bigger;
                }
                stack[depth++] = indent;
                int spell = 1;
                if (!have_unit) {
                    have_unit = 1;
                    unit = delta;
                } else if (delta.len == unit.len && same_chars(kind, data, delta.start, unit.start, unit.len)) {
                    spell = 0;
                }
                if (chars_push(&out->marked, INDENT) < 0) goto done;
                for (Py_ssize_t j = 0; spell && j < delta.len; j++)
                    if (chars_push(&out->marked, marker(PyUnicode_READ(kind, data, delta.start + j))) < 0)
                        goto done;
            }
            top = indent;
        }
        pos = k;
    }
    out->map[n] = out->marked.n;
    ok = 0;
done:
    PyMem_Free(stack);
    return ok;
}

/* ---------- the parse and the walk ---------- */

#define MAX_PARSERS 64
static struct {
    const TSLanguage *language;
    TSParser *parser;
} parsers[MAX_PARSERS];

static TSParser *parser_for(const TSLanguage *language) {
    int i = 0;
    for (; i < MAX_PARSERS && parsers[i].language; i++)
        if (parsers[i].language == language) return parsers[i].parser;
    TSParser *parser = ts_parser_new();
    if (!ts_parser_set_language(parser, language)) {
        ts_parser_delete(parser);
        PyErr_Format(PyExc_ValueError, "grammar ABI %u is not supported by this tree-sitter runtime (%d..%d)",
                     ts_language_abi_version(language), TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION,
                     TREE_SITTER_LANGUAGE_VERSION);
        return NULL;
    }
    if (i < MAX_PARSERS) parsers[i].language = language, parsers[i].parser = parser;
    return parser; /* more than MAX_PARSERS grammars: the extra parsers are never freed (a small leak) */
}

/* `_walk`: outermost string/comment byte ranges and span start bytes, top-down. */
static int walk(TSNode root, const unsigned char *region, Py_ssize_t region_len, Py_ssize_t span_bytes,
                Ints *regions, Ints *starts) {
    TSTreeCursor cursor = ts_tree_cursor_new(root);
    int ok = 0;
    if (ts_tree_cursor_goto_first_child(&cursor)) {
        for (;;) {
            TSNode node = ts_tree_cursor_current_node(&cursor);
            Py_ssize_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);
            TSSymbol symbol = ts_node_symbol(node);
            int is_region = symbol < region_len && region[symbol];
            if (end - start <= span_bytes || ts_node_child_count(node) == 0) {
                if (end > start) {
                    if (ints_push(starts, start) < 0) goto fail;
                    if (is_region && (ints_push(regions, start) < 0 || ints_push(regions, end) < 0)) goto fail;
                }
            } else if (is_region) {
                if (ints_push(starts, start) < 0 || ints_push(regions, start) < 0 || ints_push(regions, end) < 0)
                    goto fail;
            } else if (ts_tree_cursor_goto_first_child(&cursor)) {
                continue;
            }
            while (!ts_tree_cursor_goto_next_sibling(&cursor))
                if (!ts_tree_cursor_goto_parent(&cursor)) goto out;
        }
    }
out:
    ts_tree_cursor_delete(&cursor);
    return ok;
fail:
    ok = -1;
    goto out;
}

/* Byte offsets -> character offsets in place (searchsorted-left over the characters' byte starts). */
static int bytes_to_chars(PyObject *text, Py_ssize_t nbytes, Ints *offsets[], int count) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    Py_ssize_t *char_of_byte = PyMem_Malloc((size_t)(nbytes + 1) * sizeof(Py_ssize_t));
    if (!char_of_byte) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t b = 0;
    for (Py_ssize_t c = 0; c < n; c++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, c);
        int width = 1 + (ch >= 0x80) + (ch >= 0x800) + (ch >= 0x10000);
        char_of_byte[b++] = c;
        for (int j = 1; j < width; j++) char_of_byte[b++] = c + 1;
    }
    char_of_byte[nbytes] = n;
    for (int k = 0; k < count; k++)
        for (Py_ssize_t i = 0; i < offsets[k]->n; i++) offsets[k]->v[i] = char_of_byte[offsets[k]->v[i]];
    PyMem_Free(char_of_byte);
    return 0;
}

/* ---------- pretokenize ---------- */

/* The index of the token that contains marked position p (np.searchsorted(ends, p, side="right")). */
static Py_ssize_t token_at(const Ints *ends, Py_ssize_t p) {
    Py_ssize_t lo = 0, hi = ends->n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (ends->v[mid] <= p) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static PyObject *build_result(PyObject *marked, const Ints *ends, const unsigned char *span, Py_ssize_t max_chars,
                              int has_error) {
    int kind = PyUnicode_KIND(marked);
    const void *data = PyUnicode_DATA(marked);
    PyObject *words = PyList_New(0), *word_start = PyList_New(0), *span_start = PyList_New(0);
    if (!words || !word_start || !span_start) goto fail;
    Py_ssize_t begin = 0;
    for (Py_ssize_t i = 0; i < ends->n; i++) {
        Py_ssize_t end = ends->v[i];
        int starts_word = i == 0 || !is_word(PyUnicode_READ(kind, data, begin));
        int starts_span = starts_word && span[i];
        for (Py_ssize_t a = begin; a < end; a += max_chars) { /* `_chunk_long`: glued chunks */
            Py_ssize_t b = a + max_chars < end ? a + max_chars : end;
            PyObject *word = PyUnicode_Substring(marked, a, b);
            if (!word) goto fail;
            int bad = PyList_Append(words, word) < 0;
            Py_DECREF(word);
            if (bad || PyList_Append(word_start, (a == begin && starts_word) ? Py_True : Py_False) < 0 ||
                PyList_Append(span_start, (a == begin && starts_span) ? Py_True : Py_False) < 0)
                goto fail;
        }
        begin = end;
    }
    return Py_BuildValue("(NNNO)", words, word_start, span_start, has_error ? Py_True : Py_False);
fail:
    Py_XDECREF(words);
    Py_XDECREF(word_start);
    Py_XDECREF(span_start);
    return NULL;
}

PyDoc_STRVAR(pretokenize_doc,
             "pretokenize(text, language_capsule, region_kinds, span_bytes, max_word_chars)\n"
             "-> (words, word_start, span_start, has_error)\n\n"
             "The parsed path of code_pretokenizer.pretokenize for an already normalized text. region_kinds\n"
             "is a bytes mask over the grammar's kind ids (1 = string/comment node).");

static PyObject *pretokenize(PyObject *self, PyObject *args) {
    PyObject *text, *capsule, *result = NULL, *marked_str = NULL;
    const char *region;
    Py_ssize_t region_len, span_bytes, max_chars;
    if (!PyArg_ParseTuple(args, "UOy#nn", &text, &capsule, &region, &region_len, &span_bytes, &max_chars))
        return NULL;
    if (max_chars < 1) return PyErr_Format(PyExc_ValueError, "max_word_chars must be >= 1");
    const TSLanguage *language = PyCapsule_GetPointer(capsule, "tree_sitter.Language");
    if (!language) return NULL;
    TSParser *parser = parser_for(language);
    if (!parser) return NULL;
    Py_ssize_t nbytes;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &nbytes);
    if (!utf8) return NULL;
    if (nbytes > UINT32_MAX) return PyErr_Format(PyExc_ValueError, "file too large for tree-sitter");
    TSTree *tree = ts_parser_parse_string(parser, NULL, utf8, (uint32_t)nbytes);
    if (!tree) return PyErr_Format(PyExc_RuntimeError, "tree-sitter returned no tree");
    TSNode root = ts_tree_root_node(tree);
    int has_error = ts_node_has_error(root);
    Ints regions = {0}, starts = {0}, ends = {0}, long_text = {0};
    Layout lay = {{0}, NULL, {0}};
    unsigned char *span = NULL;
    if (walk(root, (const unsigned char *)region, region_len, span_bytes, &regions, &starts) < 0) goto done;
    ts_tree_delete(tree);
    tree = NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (nbytes != n) {
        Ints *offsets[2] = {&regions, &starts};
        if (bytes_to_chars(text, nbytes, offsets, 2) < 0) goto done;
    }
    if (layout(text, &lay) < 0) goto done;
    const Py_UCS4 *s = lay.marked.v;
    Py_ssize_t mlen = lay.marked.n, cursor = 0;
    for (Py_ssize_t i = 0; i + 1 < regions.n; i += 2) {
        Py_ssize_t start = lay.map[regions.v[i]], end = lay.map[regions.v[i + 1]];
        if (start < cursor || end <= start) continue;
        if (start > cursor && lex(s, cursor, start, 1, &ends) < 0) goto done;
        Py_ssize_t first = lex(s, start, end, 0, &ends);
        if (first < 0) goto done;
        if (end - start > span_bytes && (ints_push(&long_text, first) < 0 || ints_push(&long_text, ends.n) < 0))
            goto done;
        cursor = end;
    }
    if (cursor < mlen && lex(s, cursor, mlen, 1, &ends) < 0) goto done;
    span = PyMem_Calloc((size_t)ends.n + 1, 1);
    if (!span) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < starts.n; i++) span[token_at(&ends, lay.map[starts.v[i]])] = 1;
    for (Py_ssize_t i = 0; i < lay.line_starts.n; i++) span[token_at(&ends, lay.line_starts.v[i])] = 1;
    for (Py_ssize_t i = 0; i + 1 < long_text.n; i += 2)
        memset(span + long_text.v[i], 1, (size_t)(long_text.v[i + 1] - long_text.v[i]));
    if (ends.n) span[0] = 1;
    marked_str = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s, mlen);
    if (!marked_str) goto done;
    result = build_result(marked_str, &ends, span, max_chars, has_error);
done:
    if (tree) ts_tree_delete(tree);
    Py_XDECREF(marked_str);
    PyMem_Free(regions.v);
    PyMem_Free(starts.v);
    PyMem_Free(ends.v);
    PyMem_Free(long_text.v);
    PyMem_Free(lay.marked.v);
    PyMem_Free(lay.map);
    PyMem_Free(lay.line_starts.v);
    PyMem_Free(span);
    return result;
}

static PyMethodDef methods[] = {
    {"pretokenize", pretokenize, METH_VARARGS, pretokenize_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastcode", "The code pre-tokenizer's parsed path in C (see code_pretokenizer.py).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__fastcode(void) {
    init_classes();
    return PyModule_Create(&module);
}
