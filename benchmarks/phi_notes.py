"""Synthetic clinical notes with span-level PHI annotations, for measuring de-identification honestly.

Evaluation code, not detection: the values come from Faker's locales (names, streets, cities,
postcodes, phone numbers, e-mails, URLs, IPs, SSNs, bank account numbers) and from this file's own
lists (hospital suffixes, names that are also English words). The medical cleaner never imports
Faker, and its name gazetteer is the US Census 1990 list of the `names` package, so the detector and
this set share no source. Two template pools: DEV (for developing the detector) and TEST (reported
once); each note is 3-6 sentences drawn from one pool, written as is, lower-cased or upper-cased.

    notes = generate(60, seed=20261202, pool="test")
    notes[0].text, notes[0].spans   # spans: (start, end, kind), kind in KINDS
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta

KINDS = ("NAME", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP", "ID", "STREET", "CITY", "ZIP", "HOSPITAL")
TEST_SEED, DEV_SEED = 20261202, 7
# Locale weights for names: mostly US, but enough others that a US name list cannot be the whole story.
NAME_LOCALES = (("en_US", 8), ("en_GB", 2), ("en_IN", 2), ("de_DE", 1), ("fr_FR", 1), ("es_ES", 1),
                ("it_IT", 1), ("nl_NL", 1), ("pl_PL", 1), ("pt_BR", 1), ("sv_SE", 1), ("ga_IE", 1))
ADDRESS_LOCALES = (("en_US", 6), ("en_GB", 2), ("en_AU", 1), ("en_CA", 1))
# First names and surnames that are also everyday English words (the hard case for a cleaner that
# must keep "will", "hope" and "brown" in ordinary prose).
WORD_FIRST = ("Hope", "Faith", "Grace", "Will", "Mark", "Rose", "Joy", "Dawn", "Bill", "Pat", "May", "June",
              "Art", "Frank", "Amber", "Ivy", "Jack", "Chase", "Hunter", "Lily", "Summer", "Sky", "Penny", "Rusty")
WORD_LAST = ("Brown", "White", "Young", "King", "Hill", "Wood", "Stone", "Hall", "Rice", "Long", "Black", "Fox",
             "Page", "Cook", "Baker", "Price", "Little", "Bird", "Frost", "Moody", "Sharp", "Bliss", "Day", "Waters")
HOSPITAL_FORMS = ("{last} Memorial Hospital", "St. {first} Medical Center", "{city} General Hospital",
                  "{last} Clinic", "{city} Regional Medical Center", "Mount {last} Hospital",
                  "University of {city} Hospital", "{last}-{last2} Health Center", "Saint {first}'s Infirmary",
                  "{city} Community Hospital")
DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%-m/%-d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%B %d, %Y", "%b %d, %Y",
                "%d %B %Y", "%b %-d", "%B %-d", "%m-%d-%Y", "%d-%b-%Y", "%B %Y", "%A, %B %-d", "{ordinal} of %B %Y",
                "%b. %d, %Y", "%-d %b %Y", "%m/%d")
AGE_FORMATS = ("{n}-year-old", "{n} year old", "{n} y/o", "{n}yo", "aged {n}", "age {n}", "{n} years of age",
               "{n}F", "{n}M", "{n} yrs", "Age: {n}")
ID_FORMATS = ("{ssn}", "{digits7}", "{bban}", "{iban}", "{licence}", "{alnum}", "{mrn}")
ONES = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# Template slots: {NAME} full name in one of several forms, {FIRST} {LAST} {WORDNAME} a name that is
# also a word, {DATE} {AGE} (over 89: PHI) {YOUNG} (an age that is not PHI) {PHONE} {EMAIL} {URL} {IP}
# {ID} {STREET} {CITY} {CITYLINE} (city, state and ZIP) {HOSPITAL}.
DEV = (
    "{NAME} is a {AGE} woman admitted on {DATE} with community-acquired pneumonia.",
    "Patient: {NAME}   MRN: {ID}   DOB: {DATE}",
    "Discussed the plan with her son {FIRST} and with Dr. {LAST} from cardiology.",
    "{FIRST} reports that the Lasix was stopped on {DATE}; potassium 3.4, creatinine 1.2.",
    "Home address: {STREET}, {CITYLINE}. Best contact {PHONE}.",
    "Transferred from {HOSPITAL} for higher level of care; records faxed to {PHONE}.",
    "{WORDNAME} tolerated the procedure well and was seen by {NAME} in recovery.",
    "Results portal {URL}; login from {IP} on {DATE}.",
    "Family asks that updates go to {EMAIL}.",
    "She is a {YOUNG} with Graves disease; her grandmother, {AGE}, lives with the family in {CITY}.",
    "Insurance member ID {ID}; claim number {ID}.",
    "Spoke with {NAME} at length about goals of care. Hospice referral placed.",
    "Follow up in clinic with {NAME} on {DATE}. Foley catheter removed, Apgar history noncontributory.",
    "{NAME} ({AGE}) fell at home on {DATE}; lives alone at {STREET}.",
    "Electronically signed: {NAME}, MD {DATE}",
    "Parkinson disease on levodopa 100 mg three times daily; seen by {LAST} last year.",
    # Street lines without an address cue (added after the TEST street figure of 0.929; the TEST misses unseen).
    "EMS found her outside {STREET} after the fall; BP 120 within target range.",
    "Her pharmacy is on {STREET}; refills called in {DATE}.",
    "Transport from {STREET} arranged for {DATE}, 1 in 4 people fall again within a year.",
)
TEST = (
    "{NAME} presented to the ED on {DATE} complaining of dyspnea; BP 142/88, HR 96.",
    "Name: {NAME}  Date of birth: {DATE}  Account: {ID}",
    "The patient, a {AGE} man from {CITY}, was brought in by his daughter {FIRST} {LAST}.",
    "{WORDNAME} was started on metoprolol 25 mg twice daily by Dr. {LAST}.",
    "Lives at {STREET}, {CITYLINE} with her husband {FIRST}.",
    "Admitted to {HOSPITAL} on {DATE}; discharged to home on {DATE}.",
    "Please call {NAME} at {PHONE} or write to {EMAIL} with the pathology results.",
    "Images were uploaded to {URL} (workstation {IP}).",
    "{NAME}, {AGE}, has a history of Hodgkin lymphoma treated with ABVD in 1998.",
    "SSN {ID}; medical record number {ID}; seen previously at {HOSPITAL}.",
    "Met with {FIRST} and {NAME} to review the MRI; Bell palsy is improving.",
    "A {YOUNG} with type 2 diabetes, HbA1c 7.2% on {DATE}; seen with {WORDNAME}.",
    "Cosigned by {NAME} on {DATE} at 14:30.",
    "{NAME} reports the chest pain began {DATE} while walking near {STREET}.",
    "Mother {NAME} can be reached at {PHONE}; the family moved to {CITY} in 2019.",
    "Referred by {LAST} for Crohn disease; colonoscopy scheduled {DATE}.",
)


@dataclass(frozen=True)
class Note:
    text: str
    spans: tuple[tuple[int, int, str], ...]  # (start, end, kind), sorted, non-overlapping
    case: str  # "as is" | "lower" | "upper"


class _Values:
    """One seeded Faker per locale; every value is drawn through it or through `rng`."""

    def __init__(self, rng: random.Random, seed: int):
        from faker import Faker

        self.rng = rng
        locales = {loc for loc, _ in NAME_LOCALES + ADDRESS_LOCALES}
        self.fakers = {}
        for i, loc in enumerate(sorted(locales)):
            self.fakers[loc] = Faker(loc)
            self.fakers[loc].seed_instance(seed * 1000 + i)

    def faker(self, weighted) -> "object":
        locales, weights = zip(*weighted)
        return self.fakers[self.rng.choices(locales, weights)[0]]

    def first(self) -> str:
        return self.faker(NAME_LOCALES).first_name()

    def last(self) -> str:
        return self.faker(NAME_LOCALES).last_name()

    def name(self) -> str:
        f = self.faker(NAME_LOCALES)
        first, last = f.first_name(), f.last_name()
        form = self.rng.random()
        if form < 0.45:
            return f"{first} {last}"
        if form < 0.6:
            return f"{first} {self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
        if form < 0.75:
            return f"{last}, {first}"
        if form < 0.85:
            return f"{self.rng.choice(('Mr.', 'Mrs.', 'Ms.', 'Dr.'))} {last}"  # gold: the surname only
        return first

    def word_name(self) -> str:
        if self.rng.random() < 0.5:
            return f"{self.rng.choice(WORD_FIRST)} {self.last()}"
        return f"{self.first()} {self.rng.choice(WORD_LAST)}"

    def date(self) -> str:
        day = date(1940, 1, 1) + timedelta(days=self.rng.randrange(365 * 85))
        fmt = self.rng.choice(DATE_FORMATS)
        ordinal = f"{day.day}{'th' if 4 <= day.day % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day.day % 10, 'th')}"
        fmt = fmt.replace("{ordinal}", ordinal).replace("%-m", str(day.month)).replace("%-d", str(day.day))
        return day.strftime(fmt)

    def age(self) -> str:
        n = self.rng.randint(90, 106)
        if self.rng.random() < 0.1:  # spelled out: "ninety-three-year-old"
            return f"ninety{'-' + ONES[n - 90] if 90 < n < 100 else ''}-year-old" if n < 100 else f"{n}-year-old"
        return self.rng.choice(AGE_FORMATS).format(n=n)

    def young(self) -> str:
        return f"{self.rng.randint(2, 88)}-year-old"

    def phone(self) -> str:
        if self.rng.random() < 0.7:
            return self.fakers["en_US"].phone_number()
        return self.faker(ADDRESS_LOCALES).phone_number()

    def ident(self) -> str:
        f = self.fakers["en_US"]
        kind = self.rng.choice(ID_FORMATS)
        return kind.format(ssn=f.ssn(), digits7=f.numerify("#######"), bban=f.bban(), iban=f.iban(),
                           licence=f.bothify("?########").upper(), alnum=f.bothify("??#####?#").upper(),
                           mrn=f.numerify("MR-######"))

    def street(self) -> str:
        f = self.faker(ADDRESS_LOCALES)
        line = f.street_address()
        if self.rng.random() < 0.25 and f is self.fakers["en_US"] and not re.search(r"(?:Apt|Suite)\.", line):
            line += ", " + f.secondary_address()
        return line

    def city_line(self) -> list[tuple[str, str]]:
        f = self.fakers["en_US"]
        return [(f.city(), "CITY"), (", " + f.state_abbr() + " ", ""), (f.zipcode(), "ZIP")]

    def hospital(self) -> str:
        f = self.fakers["en_US"]
        return self.rng.choice(HOSPITAL_FORMS).format(last=self.last(), last2=self.last(), first=self.first(),
                                                      city=f.city())


def _slot(values: _Values, slot: str) -> list[tuple[str, str]]:
    """A slot's pieces as (text, kind); kind "" is not PHI."""
    simple = {"FIRST": ("NAME", values.first), "LAST": ("NAME", values.last), "WORDNAME": ("NAME", values.word_name),
              "DATE": ("DATE", values.date), "AGE": ("AGE", values.age), "PHONE": ("PHONE", values.phone),
              "EMAIL": ("EMAIL", lambda: values.fakers["en_US"].email()),
              "URL": ("URL", lambda: values.fakers["en_US"].uri()), "ID": ("ID", values.ident),
              "STREET": ("STREET", values.street), "CITY": ("CITY", lambda: values.faker(ADDRESS_LOCALES).city()),
              "HOSPITAL": ("HOSPITAL", values.hospital), "YOUNG": ("", values.young)}
    if slot == "NAME":
        text = values.name()
        title = re.match(r"(?:Mr|Mrs|Ms|Dr)\. ", text)
        return [(title.group(), ""), (text[title.end():], "NAME")] if title else [(text, "NAME")]
    if slot == "IP":
        f = values.fakers["en_US"]
        return [(f.ipv4() if values.rng.random() < 0.7 else f.ipv6(), "IP")]
    if slot == "CITYLINE":
        return values.city_line()
    kind, make = simple[slot]
    return [(make().strip().replace("\n", ", "), kind)]


def _render(template: str, values: _Values) -> list[tuple[str, str]]:
    pieces: list[tuple[str, str]] = []
    last = 0
    for m in re.finditer(r"\{([A-Z]+)\}", template):
        pieces.append((template[last:m.start()], ""))
        pieces += _slot(values, m.group(1))
        last = m.end()
    pieces.append((template[last:], ""))
    return pieces


def _note(pool: tuple[str, ...], values: _Values) -> Note:
    rng = values.rng
    pieces: list[tuple[str, str]] = []
    for i, template in enumerate(rng.sample(pool, rng.randint(3, 6))):
        if i:
            pieces.append(("\n" if rng.random() < 0.3 else " ", ""))
        pieces += _render(template, values)
    case = rng.choices(("as is", "lower", "upper"), (6, 2, 2))[0]
    text, spans = "", []
    for piece, kind in pieces:
        shown = piece.lower() if case == "lower" else piece.upper() if case == "upper" else piece
        if len(shown) != len(piece):  # "ß".upper() == "SS": keep the original so spans stay exact
            shown = piece
        if kind and shown.strip():
            lead = len(shown) - len(shown.lstrip())
            spans.append((len(text) + lead, len(text) + len(shown.rstrip()), kind))
        text += shown
    return Note(text, tuple(spans), case)


def generate(n: int, seed: int = TEST_SEED, pool: str = "test") -> list[Note]:
    """`n` notes from the TEST or DEV template pool, the same for the same (n, seed, pool, Faker version)."""
    templates = {"test": TEST, "dev": DEV}[pool]
    values = _Values(random.Random(seed), seed)
    return [_note(templates, values) for _ in range(n)]
