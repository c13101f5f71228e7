"""Regular-expression PHI rules: everything but person names.

Types (placeholders): EMAIL URL IP ID PHONE DATE AGE (over 89, as HIPAA Safe Harbor requires; younger
ages are kept) ADDRESS (street lines, "City, ST 12345", P.O. boxes, ZIP codes after a state) LOCATION
(hospitals and clinics; cities after a cue such as "lives in"). Case-insensitive, since clinical text
is often all lower- or upper-case. Street suffixes follow USPS Publication 28 (appendix C1), the road
types of AS/NZS 4819 (Australia, New Zealand) and common British ones; the suffixes that are also everyday
words ("Fall", "Range", "Upper", "Cross") need a street-shaped line before them (see `WORDY_STREET`).
"""
from __future__ import annotations

import re
from functools import lru_cache

MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
         r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)"
STREET = (r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|ter"
          r"|parkway|pkwy|circle|cir|highway|hwy|alley|aly|bend|bluff|branch|bridge|brook|burg|bypass|camp|canyon"
          r"|cape|causeway|center|centre|cliff|club|common|corner|corners|course|cove|creek|crescent|crest|crossing"
          r"|xing|dale|dam|divide|estate|estates|expressway|extension|ext|falls|ferry|field|fields|flat|flats|ford"
          r"|forest|forge|fork|forks|fort|freeway|garden|gardens|gateway|glen|green|grove|harbor|harbour|haven"
          r"|heights|hill|hills|hollow|inlet|island|isle|junction|key|knoll|knolls|lake|lakes|landing|light|lights"
          r"|lock|locks|lodge|loop|mall|manor|meadow|meadows|mews|mill|mills|mission|motorway|mount|mountain|neck"
          r"|orchard|oval|park|pass|path|pike|pine|pines|plain|plains|plaza|point|points|port|prairie|ranch|rapids"
          r"|rest|ridge|ridges|river|row|run|shoal|shoals|shore|shores|skyway|spring|springs|spur|square|sq|station"
          r"|stravenue|stream|summit|throughway|trace|track|trafficway|trail|trl|tunnel|turnpike|union|valley"
          r"|valleys|viaduct|view|views|village|villages|ville|vista|walk|wall|well|wells|close|grove|gate|laneway"
          r"|wynd|rise|parade|esplanade|quay|copse|passage|outlook|overpass|underpass|ramp|riverway|rotary|radial|route"
          r"|unions|squares|crossroad|crossroads|mountains|hills|strasse|straße|str"
          # USPS Pub. 28 C1 entries missing above, and AS/NZS 4819 road types that are no everyday word:
          r"|annex|anx|bayou|byu|beach|bch|bottom|btm|curve|curv|loaf|rue|trailer|trlr|alleyway|amble|anchorage"
          r"|arcade|artery|boardwalk|brae|broadway|byway|centreway|circlet|circus|colonnade"
          r"|concourse|corso|courtyard|crossway|cruiseway|cul-de-sac|deviation|dell|distributor|driveway"
          r"|entrance|fairway|firetrail|footway|foreshore|freeway|frontage|glade|grange|gully|highroad|interchange"
          r"|intersection|lookout|meander|mew|nook|parklands|pathway|piazza|plateau|promenade|quadrangle|quadrant"
          r"|quays|ridgeway|riviera|roadway|ronde|rosebowl|strand|subway|tarn|thoroughfare|tollway|tor"
          r"|towers|trunkway|villas|walkway|wharf)s?")
# Street types that are also everyday words: only in a street-shaped line (see the WORDY_STREET rule).
WORDY = (r"(?:access|approach|basin|block|brace|break|brow|chase|circuit|cross|cutting|dip|edge|elbow|end"
         r"|fall|follow|formation|front|rapid|retreat|triangle|via|yard"
         r"|gap|gates|ground|land|lees|line|link|little|lower|part|pocket|quad|ramble|range|reach|reserve|ride|ring"
         r"|round|siding|slope|sound|stairs|steps|strip|top|turn|upper|vale|wade)")
UNIT = r"(?:,?\s+(?:apt|apartment|suite|ste|unit|flat|room|rm|floor|fl|#)\.?\s*#?\s*[\w-]+)"
CARE = (r"(?:hospital|medical cent(?:er|re)|health cent(?:er|re)|health system|clinic|infirmary|sanatorium"
        r"|nursing home|rehabilitation cent(?:er|re)|cancer cent(?:er|re)|children's hospital|hospice)")
STATES = ("al ak az ar ca co ct de dc fl ga hi id il in ia ks ky la me md ma mi mn ms mo mt ne nv nh nj nm ny nc nd oh ok"
          " or pa ri sc sd tn tx ut vt va wa wv wi wy pr gu vi as mp fm mh pw aa ae ap").split()
STATE = r"(?:" + "|".join(STATES) + r")"
STATE_NAMES = ("Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho"
               "|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota"
               "|Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York"
               "|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina"
               "|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming")
TLD = r"(?:com|org|net|edu|gov|io|us|uk|ca|au|de|fr|nl|info|biz|health|care)"
# A capitalised place word, or (in text with no case) any word that is not a common function word.
PLACE_WORD = r"(?:(?:st\.|saint|mount|mt\.|port|fort|new|north|south|east|west|lake|san|santa|los|las|el)\s+)?[a-z][\w'’-]*"
ID_LABEL = (r"(?:mrn|medical record(?: number| no\.?| #)?|record (?:number|no\.?|#)|account(?: number| no\.?| #)?|acct\.?"
            r"|patient id|member id|policy(?: number| no\.?)?|insurance id|ssn|social security(?: number)?|claim(?: number| no\.?| #)?"
            r"|licen[cs]e(?: number| no\.?)?|chart(?: number| no\.?)?|encounter(?: number| no\.?)?|case(?: number| no\.?)"
            r"|id(?: number| no\.?)?|no\.|#)")

I = re.IGNORECASE
# A look-ahead of the first characters a rule can start with, "(?=\d)", lets the regex engine reject most
# positions at once: half the time of the DATE rule, a fifth of others (the rule is otherwise unchanged).
# The rules below that can skip most text: each has a cheap pattern that every one of its matches holds
# (see GATES), because the rule itself is tried at every word of its windows.
UNLABELLED_ID = re.compile(r"\b(?=[a-z\d-]*\d{5})[a-z\d][a-z\d-]{5,}\b(?![.,]\d)", I)
CONTINENTAL_SUFFIX = r"(?:straße|strasse|str\.|weg|gasse|platz|allee|singel|laan|straat|gracht|vägen|gatan|plein|dreef)"
CONTINENTAL_STREET = re.compile(rf"\b[a-zäöüé][\w'’-]*{CONTINENTAL_SUFFIX}\s+\d{{1,5}}(?:-\d{{1,5}})?\b", I)
STATE_ZIP = re.compile(rf"\b{STATE}\s+(?P<phi>\d{{5}}(?:-\d{{4}})?)\b", I)
PLACE_STATE_ZIP = re.compile(rf"\b(?P<phi>{PLACE_WORD}(?:\s+{PLACE_WORD}){{0,2}}),\s*{STATE}\.?\s+\d{{5}}", I)
CASED_STATE = r"(?:" + "|".join(s.upper() for s in STATES) + "|" + STATE_NAMES + r")\b"
CITY_STATE = re.compile(rf"\b(?P<phi>[A-Z][a-z]+(?:[ -][A-Z][a-z]+){{0,2}}),\s{CASED_STATE}(?!\s+\d)")
FIVE_DIGITS = re.compile(r"\d{5}")
GATES: dict[re.Pattern, re.Pattern] = {
    UNLABELLED_ID: FIVE_DIGITS, STATE_ZIP: FIVE_DIGITS, PLACE_STATE_ZIP: FIVE_DIGITS,
    CONTINENTAL_STREET: re.compile(CONTINENTAL_SUFFIX, I),
    CITY_STATE: re.compile(rf",\s{CASED_STATE}"),  # starts with a comma: found by a fast scan
}
RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]]", I)),
    ("URL", re.compile(rf"\b(?<![@.])(?:[a-z\d][\w-]*\.)+{TLD}/[^\s<>\"]*[^\s<>\".,;:!?)\]]", I)),  # "portal.example.com/x"
    ("IP", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b")),
    ("IP", re.compile(r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])"
                      r"|(?<![\w:])(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4}(?![\w:])", I)),
    ("ID", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),  # SSN
    ("ID", re.compile(rf"(?=[a-z#])(?:\b{ID_LABEL}\s*(?:[:#]|no\.?|number)?\s*#?\s*)(?P<phi>[a-z]{{0,4}}[-\s]?\d[\da-z-]{{2,}}(?:\s[\da-z]{{3,}})?)\b", I)),
    # An unlabelled identifier: a token of 6+ characters with a run of 5+ digits (a record, account or IBAN number).
    ("ID", UNLABELLED_ID),
    # A phone number: 9-15 digits in groups (checked in rule_spans), "+", "(0)" and extensions allowed.
    ("PHONE", re.compile(r"(?<![\w/.-])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?|\(0\)\s?)*\d{1,10}(?:[\s.-]\d{2,8}){0,4}"
                         r"(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w/])", I)),
    ("PHONE", re.compile(r"(?<![\w/.-])\+?\d{9,14}(?:\s*(?:x|ext\.?)\s*\d{1,6})?\b", I)),
    ("DATE", re.compile(rf"(?=[\dadfjmnostw])\b{WEEKDAY}?(?:{MONTH}\.?\s+{DAY},?\s+\d{{4}}|{DAY}(?:\s+of)?\s+{MONTH}\.?,?\s+\d{{4}}"
                        rf"|{MONTH}\.?\s+{DAY}\b|{DAY}\s+{MONTH}\b\.?|{MONTH}\.?,?\s+\d{{4}}|{DAY}-{MONTH}-\d{{2,4}})\b", I)),
    ("DATE", re.compile(r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
                        r"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01]))\b(?![/.-]?\d)")),
    ("AGE", re.compile(r"\b(?:9\d|1[01]\d)(?:\s*-?\s*(?:years?|yrs?|y/?o|y\.o\.|yo)\b(?:[\s-]*old)?|[fm]\b)"
                       r"|\b(?:age[ds]?:?|at the age of)\s+(?P<phi>9\d|1[01]\d)\b"
                       r"|\bninety(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?(?=[\s-]+(?:years?|yrs?|y/?o)\b)", I)),
    ("AGE", re.compile(r"\b(?P<phi>9\d|1[01]\d)\s+years\s+of\s+age\b", I)),
    # "Mrs. Jones, 94, presents with": a bare age between commas, before what is said of a person.
    ("AGE", re.compile(r",\s(?P<phi>9\d|1[01]\d),\s(?:presents|presented|was|is|who|with|has|had|reports|comes|came)\b", I)),
    # A seven-digit local number after a phone cue: "call 555-0134".
    ("PHONE", re.compile(r"\b(?:phone|tel|telephone|cell|mobile|fax|pager|beeper|call|contact|reach(?:ed)?(?: at)?)\b\W{1,3}"
                         r"(?:[a-z]+\W{1,3}){0,2}?(?P<phi>\d{3}[-.]\d{4})\b", I)),
    ("DATE", re.compile(rf"\b{MONTH}[-/.]{DAY}[-/.,]\s?\d{{2,4}}\b", I)),  # "Mar-04-2021"
    ("ADDRESS", re.compile(rf"(?=\d)(?<![/.:-])\b(?:\d{{1,4}}[a-z]?/)?\d{{1,6}}[a-z]?,?\s+(?:[a-z][\w'’.-]*\s+){{0,4}}{STREET}\b\.?(?:\s+(?:n|s|e|w|ne|nw|se|sw)\b\.?)?(?:\s+\d{{1,5}}(?:-\d{{1,5}})?)?{UNIT}?", I)),
    ("ADDRESS", CONTINENTAL_STREET),  # "Hauptstraße 5"
    ("ADDRESS", re.compile(r"\b(?:apt|apartment|suite|ste|unit|flat|room|studio|level)\.?\s*#?\s*\d+[a-z]?\b"
                           rf"(?:,?\s+(?:\d{{1,5}}\s+)?(?:[a-z][\w'’.-]*\s+){{0,3}}{STREET}\b)?", I)),
    # After an address cue, the street line up to the next comma or full stop.
    ("ADDRESS", re.compile(r"\b(?:lives(?: alone)? at|living at|resides at|residing at|(?:home |street |mailing )?address:?)\s+"
                           r"(?P<phi>\d[^,.;\n]{2,40}|(?:studio|flat|unit|apt|level)[^.;\n]{2,40}?(?=,\s*[^,]*,|[.;\n]|$))", I)),
    ("ADDRESS", STATE_ZIP),
    ("ADDRESS", PLACE_STATE_ZIP),
    # "Boston, MA" (capitals, case-sensitive: "in, me" is no state) and "Boston, Massachusetts".
    ("CITY", CITY_STATE),
    ("ADDRESS", re.compile(r"\bp\.?\s?o\.?\s+box\s+\d+\b|\b[a-z]{1,2}\d[a-z\d]?\s+\d[a-z]{2}\b", I)),  # P.O. box, UK postcode
    ("LOCATION", re.compile(rf"\b(?:(?:st\.?|saint|mount|mt\.?|university of|the)\s+)?(?:[a-z][\w'’.-]*\s+){{0,3}}(?:general\s+|memorial\s+|regional\s+|community\s+)*{CARE}\b", I)),
    ("LOCATION", re.compile(rf"\b(?:university|univ\.) of (?:[a-z][\w'’-]*\s+){{1,2}}{CARE}?", I)),
)
# Words a location match may not start with (rules that run case-insensitively grab the words before "Hospital").
LEADING_NOISE = frozenset("""a an the to at from in of on by for and or with was were is be been seen admitted transferred
previously discharged treated followed presented her his their our this that records sent faxed called went home go
up follow care goals referral referred see seen visit into out""".split())
# Where a city follows: "lives in Springfield", "moved to East Stephaniefort".
CITY_CUE = re.compile(r"\b(?:lives?(?: alone)?(?: with [\w\s]{1,30}?)? in|living in|resides in|residing in|moved to|relocated to"
                      r"|native of|resident of|family in|home in|visiting from|man from|woman from|patient from|years? in|born in)\s+"
                      r"(?P<phi>(?:(?:st\.|saint|mount|fort|port|new|north|south|east|west|lake|san|santa|el|la|los|las)\s+)?"
                      r"[A-Za-z][\w'’-]+(?:\s+(?!and\b|with\b|in\b|on\b|for\b|since\b|the\b)[A-Z][\w'’-]+)?)", I)
# "12 Harding Dell" or "3/41 Kevin Range": a number, one or two name words, a street type that is also an
# everyday word. The name words may not be function or measurement words ("120 within target range", "1 in 4
# people fall"), and in cased text they and the street type are capitalised.
WORDY_STREET = re.compile(rf"(?<![/.:-])\b(?:(?:apt|apartment|suite|ste|unit|flat|studio|level)\.?\s*#?\s*\d+[a-z]?,?\s+)?"
                          rf"(?:\d{{1,4}}[a-z]?/)?\d{{1,6}}[a-z]?\s+(?P<name>[a-z][\w'’-]*(?:\s+[a-z][\w'’-]*)?)\s+"
                          rf"(?P<type>{WORDY})\b{UNIT}?", I)
NOT_STREET_NAME = frozenset("""a an the of in on at to for from by with within without into over under per and or than
about after before between during each every more less most least times time people patients patient persons adults
children women men cases years year days day weeks week months month hours hour minutes minute seconds mg ml mcg kg g
cm mm dl l units unit doses dose tablets tablet percent low high normal target reference upper lower age aged weight""".split())
EXTENSION = re.compile(r"\s*(?:x|ext\.?)\s*", I)
CONTEXT = 80


def _windows(text: str) -> list[tuple[int, str]]:
    """Text around digits (merged): every rule but EMAIL, URL, LOCATION and the cues needs a digit."""
    windows: list[list[int]] = []
    for m in re.finditer(r"\d[\d/.:-]*", text):
        start, end = max(0, m.start() - CONTEXT), min(len(text), m.end() + CONTEXT)
        start = text.rfind(" ", 0, start) + 1 if start else 0  # never start inside a word
        end_space = text.find(" ", end)
        end = len(text) if end_space < 0 else end_space
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(end, windows[-1][1])
        else:
            windows.append([start, end])
    return [(a, text[a:b]) for a, b in windows]


CARE_ONLY = re.compile(rf"(?:(?:general|memorial|regional|community)\s+)*{CARE}", I)


def _trim_location(text: str, start: int, end: int) -> int:
    """Start after the last function word the case-insensitive rule swallowed ("follow up in clinic"
    -> "clinic"), and in cased text after the last lower-case word; `end` when only the generic
    words ("clinic", "General Hospital") remain: a hospital with no name identifies nobody."""
    cased = not (text[start:end].islower() or text[start:end].isupper())
    words = list(re.finditer(r"[\w'’.-]+", text[start:end]))
    cut = 0
    for i, m in enumerate(words):
        word = m.group()
        university = word.lower() == "of" and i and words[i - 1].group().lower() in ("university", "univ.")
        if (word.lower().strip(".") in LEADING_NOISE and not university) or (cased and word[0].islower() and not university):
            cut = m.end()
    rest = text[start + cut:end].lstrip()
    if not rest or CARE_ONLY.fullmatch(rest):
        return end
    return end - len(rest)


CARE_WORD = re.compile(r"hospital|cent(?:er|re)|clinic|infirmary|sanatorium|nursing home|hospice|health system", I)
# The look-ahead (the first letters of the cues) lets the engine skip to candidates; a leading \b alone does not.
CITY_CUE_WORD = re.compile(r"(?=[lrmnfhvwpyb])\b(?:lives?|living|resid(?:es|ing)|moved|relocated|native|resident|family in|home in"
                           r"|visiting|(?:wo)?man from|patient from|years? in|born in)\b", I)


# What an e-mail address or a URL holds (see `rule_spans`): those rules run only around these.
AT_SIGN = re.compile("@")
URL_MARK = re.compile(r"/|www\.", I)


@lru_cache(maxsize=16)
def _case_sensitive(keyword: re.Pattern) -> re.Pattern:
    return re.compile(keyword.pattern, keyword.flags & ~re.IGNORECASE)


def _keyword_matches(text: str, lowered: str, keyword: re.Pattern):
    """The matches of a case-insensitive keyword pattern (lower-case literals). In ASCII text, the
    case-sensitive twin on the lower-cased text: the same offsets, several times faster, as the engine
    then skips ahead to the first letters instead of folding the case of every character."""
    if text.isascii():
        return _case_sensitive(keyword).finditer(lowered)
    return keyword.finditer(text)


def _holds(chunk: str, gate: re.Pattern) -> bool:
    """Whether `chunk` holds a match of `gate` (case-insensitive ones searched as in `_keyword_matches`)."""
    if gate.flags & re.IGNORECASE and chunk.isascii():
        return _case_sensitive(gate).search(chunk.lower()) is not None
    return gate.search(chunk) is not None


def _keyword_windows(text: str, keyword: re.Pattern, before: int, after: int,
                     lowered: str | None = None) -> list[tuple[int, str]]:
    """Text around a keyword (merged, cut at spaces): the rules that need one run only there."""
    windows: list[list[int]] = []
    for m in _keyword_matches(text, text.lower() if lowered is None else lowered, keyword):
        start = text.rfind(" ", 0, max(0, m.start() - before)) + 1
        end = text.find(" ", m.end() + after)
        end = len(text) if end < 0 else end
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(end, windows[-1][1])
        else:
            windows.append([start, end])
    return [(a, text[a:b]) for a, b in windows]


def rule_spans(text: str) -> list[tuple[int, int, str]]:
    found = []
    whole = [(0, text)]
    lowered = text.lower()
    chunks = _windows(text)
    care = _keyword_windows(text, CARE_WORD, 80, 30, lowered)
    # An address or URL has no space inside, and windows end at spaces: the words around "@", "/" and
    # "www." hold every match there is in the whole text.
    linked = "@" in text or "/" in text or "www." in text or "WWW." in text
    emails = _keyword_windows(text, AT_SIGN, 0, 0, lowered) if linked else []
    urls = _keyword_windows(text, URL_MARK, 0, 0, lowered) if linked else []
    for kind, pattern in RULES:
        if kind in ("EMAIL", "URL"):
            targets = emails if kind == "EMAIL" else urls
        elif kind == "LOCATION":
            targets = care
        elif kind == "CITY":
            kind, targets = "LOCATION", whole
        else:
            targets = chunks
        group = "phi" if "phi" in pattern.groupindex else 0
        gate = GATES.get(pattern)
        for offset, chunk in targets:
            if gate is not None and not _holds(chunk, gate):
                continue
            for m in pattern.finditer(chunk):
                start, end = m.span(group) if m.group(group) is not None else m.span()
                if kind == "LOCATION":
                    start = _trim_location(chunk, start, end)
                if kind == "PHONE" and group == 0 and not 9 <= sum(c.isdigit() for c in EXTENSION.split(chunk[start:end])[0]) <= 15:
                    continue
                if end > start:
                    found.append((offset + start, offset + end, kind))
    for offset, chunk in chunks:
        cased = not (chunk.islower() or chunk.isupper())
        for m in WORDY_STREET.finditer(chunk):
            words = m.group("name").split() + [m.group("type")]
            if any(w.lower() in NOT_STREET_NAME for w in words[:-1]) or (cased and not all(w[0].isupper() for w in words)):
                continue
            found.append((offset + m.start(), offset + m.end(), "ADDRESS"))
    for offset, chunk in _keyword_windows(text, CITY_CUE_WORD, 50, 60, lowered):
        for m in CITY_CUE.finditer(chunk):
            found.append((offset + m.start("phi"), offset + m.end("phi"), "LOCATION"))
    return sorted(set(found))
