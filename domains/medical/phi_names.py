"""Person names: a census name gazetteer, context rules and (when installed) spaCy's trained NER.

Sources. First names and surnames: the US Census Bureau's 1990 name-frequency files as shipped by the
`names` package on PyPI (MIT; 5,494 first names, the 20,000 most frequent of 88,799 surnames). Which
words are also ordinary English: the WordNet lemma index inside the trained spaCy pipeline's lemmatizer
(else spaCy's stop words). None of these is Faker, from which the evaluation notes are drawn.

How a name is found, line by line. A line is "cased" unless nearly all its letters are lower-case or
upper-case; in a caseless line every word that is not an ordinary English word may be a proper noun.
Runs of candidate words (capitalised in cased text; initials, "da", "van", "O'" inside) become names
when: a title precedes them ("Dr.", "Mrs."); a cue precedes them ("Patient:", "son", "spoke with");
they hold a gazetteer name next to another candidate ("Grace Slater", "Valentine, Jessica"); or they
are one gazetteer name that is not an ordinary word. Eponyms ("Graves disease") are not names.
NER PERSON entities are added, run on a copy of the text whose caseless lines are title-cased word by
word (offsets unchanged), so that "john smith" and "JOHN SMITH" reach the model as "John Smith".
"""
from __future__ import annotations

import re
from functools import lru_cache

from spacy.lang.en.stop_words import STOP_WORDS

TITLES = frozenset("mr mrs ms miss mx dr prof sr sister nurse".split())
# A cue before a name: the next candidate run is a name even if no list knows it.
CUES = frozenset("""patient pt name son daughter wife husband mother father brother sister grandson granddaughter
niece nephew guardian friend partner caregiver signed cosigned dictated attending physician surgeon resident
contact cc by with mom dad aunt uncle fiance fiancee spouse informant""".split())
# Words that a name is never part of, whatever the gazetteer says (so runs stop there).
NEVER = frozenset("""patient pt dr mr mrs ms md do rn np pa phd the a an and or of in on at to for with from by is was
were has had have be been seen today yesterday tomorrow she he her his they their him we our you your i me my
who which that this these those it its also then there here when where while after before since about per via
bp hr rr temp spo2 ed er icu or mri ct cbc bmp ekg ecg abvd copd chf cad dm htn iv po prn bid tid qid qd mg ml
kg cm mm mmol mcg dose daily twice weekly monthly hospital clinic center medical street road avenue
situ vivo vitro utero""".split())
EPONYM_NEXT = frozenset("""disease syndrome palsy lymphoma sarcoma tumor tumour sign signs test score scale criteria
catheter procedure reflex phenomenon history maneuver manoeuvre classification fracture ulcer disorder's disease's
anomaly deformity node nodes cell cells method technique law rule index solution's solution stain""".split())
PARTICLES = frozenset("da de del della der di do dos du la le van von ter ten bin al el st o' mc mac y".split())
# After a run at the start of a sentence, these verbs make it a name ("Grace tolerated the procedure").
PERSON_VERBS = frozenset("""reports reported states stated denies denied tolerated presented presents complains
complained called returns returned arrived notes noted agrees agreed understands declined refused asked says
said feels felt fell""".split())
NAME_VERBS = PERSON_VERBS | frozenset("was is has had will".split())  # the weak ones only after a gazetteer name
# A word: letters, single apostrophes or hyphens between letters, maybe a full stop. Written as runs of
# letters rather than letter by letter (the same matches, a third faster: these run over every line).
WORD = re.compile(r"(?<!\w)[^\W\d_]+(?:['’-][^\W\d_]+)*\.?(?!\w)")
CAPITALISED = re.compile(r"(?<!\w)[^\W\d_a-z][^\W\d_]*(?:['’-][^\W\d_]+)*\.?(?!\w)")
SURNAMES_KEPT = 20_000
KIND_CACHE_SIZE = 200_000
CUE_GAP = re.compile(r"\s*[:,#-]?\s*")
# What a cased piece needs before the name rules (NAME, TITLE, PERSON_VERB) or the NER hints (HINT) look at
# it word by word: bits of NameFinder._evidence.
EVIDENCE_NAME, EVIDENCE_TITLE, EVIDENCE_PERSON_VERB, EVIDENCE_HINT, EVIDENCE_UNSEEN = 1, 2, 4, 8, 16
AGE_NEXT = re.compile(r"(?:,? \(?| (?:is|was) an? )(?:age[ds]?\b|\d{1,3}(?:[- ]?(?:y|yo|yrs?|years?)\b|[fm]\b))", re.IGNORECASE)


@lru_cache(maxsize=1)
def gazetteer() -> tuple[frozenset, frozenset, str]:
    """(first names, surnames, source), lower-cased; empty with a note when `names` is not installed."""
    try:
        from importlib.resources import files

        base = files("names")
        first = set()
        for fn in ("dist.male.first", "dist.female.first"):
            first |= {line.split()[0].lower() for line in (base / fn).read_text().splitlines() if line.strip()}
        rows = (base / "dist.all.last").read_text().splitlines()[:SURNAMES_KEPT]
        last = {line.split()[0].lower() for line in rows if line.strip()}
        return frozenset(first), frozenset(last), "US Census 1990 name lists (PyPI `names`)"
    except (ImportError, ModuleNotFoundError, FileNotFoundError):
        return frozenset(), frozenset(), "no name gazetteer (pip install names)"


def english_words(trained) -> tuple[frozenset, bool]:
    """Ordinary English words: WordNet's lemma index from the trained pipeline, else spaCy's stop words."""
    words = set(STOP_WORDS) | NEVER
    lemmatizer = dict(trained.components).get("lemmatizer") if trained is not None else None  # disabled, still there
    if lemmatizer is not None:
        table = lemmatizer.lookups.get_table("lemma_index", {})
        for _, lemmas in table.items():
            words.update(w for w in lemmas if w.isalpha())
    return frozenset(words), lemmatizer is not None


SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)([^\W\d_])")


# Case is judged per sentence or field, not per line: "Seen today. PATIENT: JOHN SMITH   MRN: 123".
# Within a line, a piece ends after the space of "! ", "? ", "; ", "word. " or a gap of three spaces (a
# line ends at its newline). Matched at the space, which the regex engine finds fast, then looked back from:
# a zero-width split tried at every character cost twice as much.
SEGMENT_END = re.compile(r" (?:(?<=[!?;] )|(?<=[a-zA-Z0-9]{4}\. )|(?<=\S   ))")


def _pieces(line: str) -> list[str]:
    """`line` cut after each SEGMENT_END, without empty pieces."""
    out, last = [], 0
    for m in SEGMENT_END.finditer(line):
        out.append(line[last:m.end()])
        last = m.end()
    out.append(line[last:])
    return [piece for piece in out if piece]


@lru_cache(maxsize=8)  # the name rules and the NER hints ask for the same text in turn
def segments(text: str) -> tuple[tuple[str, bool], ...]:
    """(piece, caseless) with pieces that concatenate back to `text`: lines split after sentences and wide
    gaps. Upper case is judged per piece ("Seen today. PATIENT: JOHN SMITH"), lower case per line (a
    bullet such as "- to more than one lymph node" has no capital, yet its text is cased)."""
    out = []
    for line in text.splitlines(keepends=True):
        lower = caseless(line) and not _upper(line)
        if lower or not _may_hold_upper_piece(line):
            out += [(piece, lower) for piece in _pieces(line)]
        else:
            out += [(piece, _upper(piece)) for piece in _pieces(line)]
    return tuple(out)


def _may_hold_upper_piece(line: str) -> bool:
    """False when no piece of the line can be upper-case: that needs 4 capitals at least (see `_upper`),
    and most prose lines have fewer, so their pieces need no counting."""
    return case_counts(line)[0] >= 4


ASCII_UPPER, ASCII_LOWER = bytes(range(65, 91)), bytes(range(97, 123))


def case_counts(piece: str) -> tuple[int, int]:
    """(upper-case, lower-case) letters. ASCII text (nearly all of it) is counted by deleting bytes in C,
    several times faster than testing each character; other text character by character."""
    if piece.isascii():
        raw = piece.encode("ascii")
        return len(raw) - len(raw.translate(None, ASCII_UPPER)), len(raw) - len(raw.translate(None, ASCII_LOWER))
    return sum(map(str.isupper, piece)), sum(map(str.islower, piece))


def _upper(piece: str) -> bool:
    upper, lower = case_counts(piece)
    return upper + lower >= 4 and upper >= (upper + lower) * 0.9


@lru_cache(maxsize=4096)  # asked for each line by the rules, the NER gate and the case restoration
def caseless(line: str) -> bool:
    """All upper-case, or lower-case even where sentences start (ordinary prose has few capitals too)."""
    upper, lower = case_counts(line)
    if upper + lower < 4:
        return False
    if upper >= (upper + lower) * 0.9:
        return True
    if upper == 0:
        return True  # no capital at all: no need to look at the sentence starts
    starts = [m.group(1) for m in SENTENCE_START.finditer(line)]
    return (len(starts) >= 2 and sum(c.islower() for c in starts) > len(starts) / 2)


def restore_case(text: str, maybe_name) -> str:
    """Caseless lines as ordinary text: lower-case, with the words that may be names capitalised
    (`maybe_name(word)`), so that NER sees "spoke with John Smith at length". Same length: offsets stay valid."""
    def fix(m: re.Match) -> str:
        word = m.group()
        new = word.capitalize() if maybe_name(word) else word.lower()
        return new if len(new) == len(word) else word

    out = []
    for line, blind in segments(text):
        fixed = WORD.sub(fix, line) if blind else line
        out.append(fixed if len(fixed) == len(line) else line)
    return "".join(out)


class NameFinder:
    """Rule-based names with the gazetteer; `find(text)` returns (start, end) spans."""

    def __init__(self, words: frozenset, lexicon: bool):
        self.first, self.last, self.source = gazetteer()
        self.words = words
        self.lexicon = lexicon  # False: no dictionary, so an unknown word is no evidence of a name
        # Kinds of the words seen, per case mode (the same few thousand words recur in every document).
        self._kinds: dict[bool, dict[str, int]] = {True: {}, False: {}}
        self._unknowns: dict[str, bool] = {}  # asked of each capitalised word by the hints, the rules and the NER filter
        self._evidence: dict[str, int] = {}  # EVIDENCE_* bits per chunk of cased text (see `_may_hold_name`)
        self._last_evidence: tuple[str | None, list[int]] = (None, [])

    def is_word(self, low: str) -> bool:
        """An English word or a regular inflection of one ("records", "faxed", "admitted", "higher")."""
        words = self.words
        if "-" in low:
            return all(self.is_word(part) for part in low.split("-") if part)
        return (low in words or (low.endswith("s") and low[:-1] in words) or (low.endswith(("es", "ed", "er"))
                and (low[:-2] in words or low[:-1] in words)) or (low.endswith("ing") and low[:-3] in words)
                or (low.endswith("ly") and low[:-2] in words) or (low.endswith(("ied", "ies")) and low[:-3] + "y" in words))

    def _kind(self, token: str, cased: bool) -> int:
        """0: not a name word; 1: may be part of a name; 2: a name on its own (a gazetteer name, not a word)."""
        if cased and not token[0].isupper():  # most words of prose: decided first, cheaply
            return 1 if token in PARTICLES else 0
        low = token.lower().rstrip(".")
        if len(token) == 2 and token[1] == "." and (token[0].isupper() or not cased):
            return 1  # an initial: "A."
        if low in NEVER or low in CUES or low in TITLES or not low:
            return 0
        if cased and len(low) > 1 and token.isupper():
            return 0  # an acronym in cased text: "ABVD", "MRI"
        if len(low) == 1:
            return 1  # an initial
        named = low in self.first or low in self.last
        word = self.is_word(low)
        if named and not word:
            return 2
        if named or not word:
            return 1
        return 1 if cased else 0

    def hints(self, text: str) -> list[int]:
        """Offsets of words worth showing NER: gazetteer names and unknown words, capitalised in cased text.
        In caseless text not the surnames that are English words and no first name ("blood", "more"):
        the NER's persons made only of such words are dropped (see cleaners._persons), so there it
        only cost time."""
        out, offset = [], 0
        for (line, blind), bits in zip(segments(text), self._segment_evidence(text)):
            cased = not blind
            if cased and not bits & EVIDENCE_HINT:
                offset += len(line)  # no capitalised word here is a gazetteer name or unknown: no hint
                continue
            for m in (CAPITALISED if cased else WORD).finditer(line):  # cased prose: only its capitalised words
                word = m.group()
                if (cased and (word.isupper() or not word[0].isupper())) or word.lower() in NEVER:
                    continue
                low = word.lower()
                after = WORD.match(line, m.end() + 1) if line[m.end():m.end() + 1] == " " else None
                nxt = after.group() if after else ""
                # "Grace Slater", "Sky Burgess"; not "May cause", "Key Points", "Non-Hodgkin Lymphoma"
                before_capital = nxt[:1].isupper() and (self._named(nxt) or self._unknown(nxt))
                if not cased and self.is_word(low) and low not in self.first and not self._unknown(word):
                    continue  # caseless "blood", "high", "more": surnames that are English words, no first name
                if (self._named(word) and not self.is_word(low)) or (self._named(word) and (before_capital or not cased)) \
                        or (self._unknown(word) and (before_capital or not cased)):
                    out.append(offset + m.start())
            offset += len(line)
        return out

    def find(self, text: str) -> list[tuple[int, int]]:
        spans = []
        offset = 0
        for (line, blind), bits in zip(segments(text), self._segment_evidence(text)):
            if blind or not self.lexicon or _may_hold_name(line, bits):
                spans += [(offset + a, offset + b) for a, b in self._line(line, not blind)]
            offset += len(line)
        return spans

    def _segment_evidence(self, text: str) -> list[int]:
        """EVIDENCE_* bits of each piece of `segments(text)` (0 for caseless pieces), kept for the last text:
        the name rules and the NER hints ask for the same document in turn."""
        if self._last_evidence[0] is not text:
            self._last_evidence = (text, [0 if blind else self._evidence_bits(line) for line, blind in segments(text)])
        return self._last_evidence[1]

    def _kinds_of(self, words: list[str], cased: bool) -> list[int]:
        """`_kind` of each word, looked up in bulk (`map` over the cache runs in C); misses computed once."""
        cache = self._kinds[cased]
        kinds = list(map(cache.get, words))
        if None in kinds:
            if len(cache) > KIND_CACHE_SIZE:  # bounded: a large corpus has an open vocabulary
                cache.clear()
            for i, kind in enumerate(kinds):
                if kind is None:
                    kinds[i] = cache[words[i]] = self._kind(words[i], cased)
        return kinds

    def _evidence_bits(self, line: str) -> int:
        """EVIDENCE_* bits of a cased piece: the union over its whitespace-separated chunks, cached per chunk.
        No WORD or CAPITALISED match crosses whitespace, so a chunk's words are the line's words, and
        splitting runs in C where finding the words by regex cost a third of the name rules' time."""
        bits = 0
        for flag in set(map(self._evidence.get, line.split())):
            bits |= flag if flag is not None else EVIDENCE_UNSEEN
        if bits & EVIDENCE_UNSEEN:
            bits = 0
            for chunk in line.split():
                bits |= self._chunk_evidence(chunk)
        return bits

    def _chunk_evidence(self, chunk: str) -> int:
        """EVIDENCE_* bits of the words in a whitespace-free chunk ("(Hodgkin's),")."""
        flag = self._evidence.get(chunk)
        if flag is None:
            if len(self._evidence) > KIND_CACHE_SIZE:
                self._evidence.clear()
            flag = 0
            for word in WORD.findall(chunk):
                low = word.lower()
                named = self._kinds_of([word], True)[0] and (self._named(word) or self._unknown(word))
                flag |= ((EVIDENCE_NAME if named else 0) | (EVIDENCE_TITLE if low.rstrip(".") in TITLES else 0)
                         | (EVIDENCE_PERSON_VERB if low in PERSON_VERBS else 0))
            for word in CAPITALISED.findall(chunk):  # what `hints` looks at in cased text (not always a WORD)
                if word[0].isupper() and not word.isupper() and word.lower() not in NEVER \
                        and (self._named(word) or self._unknown(word)):
                    flag |= EVIDENCE_HINT
            self._evidence[chunk] = flag
        return flag

    def _line(self, line: str, cased: bool) -> list[tuple[int, int]]:
        if cased and not CAPITALISED.search(line):
            # In cased text only a capitalised word starts a name: lower-case words are kind 0, or 1 for
            # particles ("van", "de"), and a run of particles alone is popped away below. A quarter of MedQuAD's pieces.
            return []
        tokens = [(m.start(), m.end(), m.group()) for m in WORD.finditer(line)]
        kinds = self._kinds_of([t for _, _, t in tokens], cased)
        spans, i = [], 0
        while i < len(tokens):
            if not kinds[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(tokens) and kinds[j + 1] and _adjacent(line, tokens[j][1], tokens[j + 1][0]):
                j += 1
            run = list(range(i, j + 1))
            accepted = self._is_name(line, tokens, kinds, run, cased)
            k = self._comma_tail(line, tokens, kinds, j, cased, accepted) if j - i < 2 else None
            if k is not None:  # "Last, First": "with Morris, Conor", "Gandhi, Xalak is a 102F woman"
                given = tokens[j + 1][2]
                left_ok = all(self._named(tokens[x][2]) or self._unknown(tokens[x][2]) for x in run)
                if accepted or (left_ok and (given.lower() in self.first or self._unknown(given))) \
                        or self._context_after(line, tokens, k):
                    run, j, accepted = list(range(i, k + 1)), k, True
            if accepted:
                while run and tokens[run[-1]][2].lower().rstrip(".") in PARTICLES:
                    run.pop()
                if run:
                    spans.append((tokens[run[0]][0], tokens[run[-1]][1] - tokens[run[-1]][2].endswith(".")
                                   * (len(tokens[run[-1]][2]) > 2)))
            i = j + 1
        return spans

    def _is_name(self, line: str, tokens, kinds, run: list[int], cased: bool) -> bool:
        first_tok, last_tok = run[0], run[-1]
        words = [tokens[k][2].lower().rstrip(".") for k in run]
        nxt = tokens[last_tok + 1][2].lower() if last_tok + 1 < len(tokens) else ""
        if nxt.rstrip(".") in EPONYM_NEXT or line[tokens[last_tok][1]:tokens[last_tok][1] + 2] in ("'s", "’s") \
                and nxt.rstrip(".") in EPONYM_NEXT:
            return False
        prev = tokens[first_tok - 1][2].lower().rstrip(".") if first_tok else ""
        if first_tok and (not CUE_GAP.fullmatch(line[tokens[first_tok - 1][1]:tokens[first_tok][0]])
                          or (tokens[first_tok - 1][2].endswith(".") and prev not in TITLES)):
            prev = ""  # "contact 555-0134. Follow up", "the patient. Whether": the cue is not next to the run
        if prev in TITLES or prev in CUES:
            if not cased:  # "PATIENT: AUDREY CAMUS  MRN": a caseless word after a cue is part of the name
                while (len(run) < 3 and run[-1] + 1 < len(tokens) and kinds[run[-1] + 1] == 0
                       and _adjacent(line, tokens[run[-1]][1], tokens[run[-1] + 1][0])
                       and tokens[run[-1] + 1][2].lower().rstrip(".") not in NEVER | STOP_WORDS | CUES | TITLES):
                    run.append(run[-1] + 1)
            if prev not in TITLES and cased and self.lexicon \
                    and not any(self._named(tokens[k][2]) or self._unknown(tokens[k][2]) for k in run):
                return False  # "Removed By Surgery": a title-cased heading, not "by Okafor"
            return any(kinds[k] for k in run) and not all(len(w) == 1 for w in words)
        strong = sum(kinds[k] == 2 for k in run)
        named = [w for w in words if (w in self.first or w in self.last) and len(w) > 1]
        if len(run) >= 2 and (named or any(self._unknown(tokens[k][2]) for k in run)) \
                and self._context_after(line, tokens, last_tok):
            return True  # "Kick Goudriaan is a 100-year-old", "June Pimenta tolerated"
        if len(run) >= 2 and named and sum(len(w) > 1 for w in words) >= 2:
            second = tokens[run[1]][2] if len(run) > 1 else ""
            plain = self.is_word(words[0]) and (not cased or self.is_word(second.lower().rstrip(".")))
            if words[0] in self.first and not (plain and not cased) \
                    and (not self.is_word(words[0]) or self._named(second) or self._unknown(second)):
                return True  # "Grace Slater", "Will Baker", "Joy Ogrodowicz"; not "See Drugs Approved"
            if strong >= 1 and self.lexicon:
                return True  # "Okafor Smith"
            if any(w in EPONYM_NEXT for w in words):
                return False  # "Polycystic Kidney Disease", "Red Blood Cell Transfusions": a heading
            # "Valérie Lombard"; two gazetteer words need one that is no English word ("high blood" is not a name)
            return (len(named) >= 2 and not all(self.is_word(w) for w in named)) \
                or any(self._unknown(tokens[k][2]) for k in run)
        if len(run) == 1 and strong and self.lexicon:  # with no dictionary, "Stage" and "Blood" look like surnames
            return not cased or not _sentence_start(line, tokens[first_tok][0]) or nxt in NAME_VERBS
        long_words = [tokens[k][2] for k in run if len(tokens[k][2].rstrip(".")) > 1]
        if len(long_words) >= 2 and all(self._unknown(w) for w in long_words):
            return True  # "Adelmo Pergolesi": two capitalised words that no English dictionary knows
        age_next = AGE_NEXT.match(line, tokens[last_tok][1])
        followed = nxt in (NAME_VERBS if strong else PERSON_VERBS) or age_next
        if len(run) == 1 and (named or self._unknown(tokens[first_tok][2])) and followed \
                and _sentence_start(line, tokens[first_tok][0]):
            return True  # "Artur reports ...", "Fiyaz (age 101) fell"
        return False

    def _comma_tail(self, line: str, tokens, kinds, j: int, cased: bool, accepted: bool) -> int | None:
        """End of the run after ", " that may be a given name, or None."""
        if j + 1 >= len(tokens) or line[tokens[j][1]:tokens[j + 1][0]].strip() != ",":
            return None
        word = tokens[j + 1][2].lower().rstrip(".")
        if not kinds[j + 1] and not (accepted and not cased and word not in NEVER | STOP_WORDS | CUES | TITLES):
            return None
        k = j + 1
        while k + 1 < len(tokens) and kinds[k + 1] and _adjacent(line, tokens[k][1], tokens[k + 1][0]) and k - j < 2:
            k += 1
        return k

    def _context_after(self, line: str, tokens, last: int) -> bool:
        """What follows is said of a person: "... is a 93-year-old", "... reports", "... (age 91)"."""
        nxt = tokens[last + 1][2].lower() if last + 1 < len(tokens) else ""
        return nxt in PERSON_VERBS or bool(AGE_NEXT.match(line, tokens[last][1]))

    def _named(self, token: str) -> bool:
        low = token.lower().rstrip(".")
        return low in self.first or low in self.last

    def _unknown(self, token: str) -> bool:
        """Neither an English word nor an acronym: most likely a proper noun."""
        known = self._unknowns.get(token)
        if known is None:
            if len(self._unknowns) > KIND_CACHE_SIZE:
                self._unknowns.clear()
            known = self._unknowns[token] = self._unknown_uncached(token)
        return known

    def _unknown_uncached(self, token: str) -> bool:
        low = token.lower().rstrip(".")
        rest = token[1:]
        if not rest.islower() and any(c.isupper() for c in rest) and not token.isupper():  # islower: the usual case, fast
            return False  # "NCI's", "GeneReviews": an acronym or a product, not a person
        return self.lexicon and len(low) > 1 and not self.is_word(low) and low not in NEVER and not (token.isupper() and len(low) < 4
                                                                                    and low not in self.first)


def _may_hold_name(line: str, bits: int) -> bool:
    """False only when `NameFinder._line` would find no name in this cased piece (with the dictionary on),
    from the piece's EVIDENCE_* bits: every name it accepts holds a word that may be part of a name and is a
    gazetteer name or unknown to the dictionary, or follows a title ("Dr. Stone"), or is "Last, First"
    said of a person ("Stone, Anna reports", "..., 54 years"). Four in five MedQuAD pieces have none."""
    if bits & (EVIDENCE_NAME | EVIDENCE_TITLE):
        return True
    return "," in line and bool(bits & EVIDENCE_PERSON_VERB or AGE_NEXT.search(line))


def _adjacent(line: str, end: int, start: int) -> bool:
    """Next word of the same name: one space or hyphen apart, or after an initial ("J. Smith")."""
    gap = line[end:start]
    if line[end - 1] == ".":  # only an initial's full stop continues a name ("J. Smith", not "Points. Follow")
        return gap == " " and (end < 3 or not line[end - 3].isalpha())
    return gap in (" ", "-", "  ")


def _sentence_start(line: str, start: int) -> bool:
    before = line[:start].rstrip()
    return not before or before[-1] in ".!?:;\n\"(-•*" or before[-1].isdigit()  # "DOB: 07/23/09 Thibaut reports"
